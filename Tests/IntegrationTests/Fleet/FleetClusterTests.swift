import Foundation
import Testing
import TestSupport

/// fleet on real machines: 3 KV members and 1 worker booted from `cloud-config/*.yaml` with fleetd
/// under systemd (`scripts/cluster up`), driven with fleetctl on the worker. Units run in the
/// machines' real systemd.
@Suite(.serialized) struct FleetClusterTests {
    struct Cluster {
        let bed: Testbed
        var worker: TestMachine { bed.machines[3] }

        /// Runs fleetctl on `machine` (the worker unless said otherwise: fault tests cut machines off).
        func fleetctl(_ args: [String], on machine: TestMachine? = nil) throws -> ProcessResult {
            try bed.run(on: machine ?? worker, ["fleetctl"] + args)
        }

        /// `unit → [machine IP]` for the units systemd reports active, from `fleetctl list-units`
        /// run on `machine` (the worker by default).
        func activeUnits(via machine: TestMachine? = nil) throws -> [String: [String]] {
            let result = try fleetctl(["list-units", "--no-legend", "--full", "--fields", "unit,machine,active"], on: machine)
            guard result.succeeded else { return [:] }
            var out: [String: [String]] = [:]
            for line in result.stdout.split(separator: "\n") {
                let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                // A machine column without "/IP" names a machine that is gone.
                guard f.count == 3, f[2] == "active", f[1].contains("/") else { continue }
                out[String(f[0]), default: []].append(String(f[1].split(separator: "/").last ?? ""))
            }
            return out
        }

        func machine(at ip: String) -> TestMachine? { bed.machines.first { $0.address == ip } }

        /// Whether real systemd on `machine` runs `unit`.
        func systemdActive(_ unit: String, on machine: TestMachine) -> Bool {
            (try? bed.run(on: machine, ["systemctl", "is-active", "--quiet", unit]).succeeded) ?? false
        }

        func mainPID(_ unit: String, on machine: TestMachine) throws -> String {
            try bed.run(on: machine, ["systemctl", "show", "-p", "MainPID", "--value", unit]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func writeUnit(_ name: String, _ text: String, on machine: TestMachine? = nil) throws {
            let result = try bed.run(on: machine ?? worker, ["bash", "-c", "mkdir -p /root/units && cat > /root/units/\(name) <<'UNIT'\n\(text)UNIT\n"])
            #expect(result.succeeded, "\(result)")
        }

        /// The machine ID → IP map from `fleetctl list-machines --full`.
        func machineIPs() throws -> [String: String] {
            let result = try fleetctl(["list-machines", "--no-legend", "--full"])
            var out: [String: String] = [:]
            for line in result.stdout.split(separator: "\n") {
                let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
                guard f.count >= 2 else { continue }
                out[String(f[0].split(separator: "/").first ?? "")] = String(f[1])
            }
            return out
        }

        func engineLeaderIP() throws -> String? {
            let endpoints = bed.machines.prefix(3).map { "http://\($0.address):2379" }.joined(separator: ",")
            let lease = try bed.runInHub(["env", "ETCDCTL_API=2", "etcdctl", "--endpoints", endpoints, "get",
                                          "/_coreos.com/fleet/lease/engine-leader"]).stdout
            guard let data = lease.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let id = object["MachineID"] as? String
            else { return nil }
            return try machineIPs()[id]
        }
    }

    static func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(200_000)
        }
        return try condition()
    }

    @Test func unitsRunWhereScheduledAndSurviveFailures() async throws {
        let bed = try await Testbed.bootCluster("flc")
        defer { bed.shutdown() }
        let c = Cluster(bed: bed)

        // Every machine is registered, with the IP and metadata from its user-data.
        let machines = try c.fleetctl(["list-machines", "--no-legend"])
        #expect(machines.succeeded, "\(machines)")
        #expect(machines.stdout.split(separator: "\n").count == 4, "\(machines.stdout)")
        #expect(machines.stdout.contains("role=worker"))
        #expect(machines.stdout.contains("member=kv2,role=kv"))

        // The worker's user-data also made a user with a key, a file and the hostname.
        let boot = try bed.run(on: c.worker, ["bash", "-c",
            "id -nG ops && cat /home/ops/.ssh/authorized_keys && stat -c '%U %a' /home/ops/.ssh/authorized_keys && cat /etc/motd && hostname"])
        #expect(boot.succeeded, "\(boot)")
        #expect(boot.stdout.contains("systemd-journal"), "\(boot.stdout)")
        #expect(boot.stdout.contains("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForTheFleetSwiftWorkerUserData ops@example"))
        #expect(boot.stdout.contains("ops 600"))
        #expect(boot.stdout.contains("fleet-swift worker: fleetctl list-machines"))
        #expect(boot.stdout.hasSuffix("worker1\n"), "\(boot.stdout)")

        // A unit started through the API runs in real systemd on the machine the scheduler chose.
        try c.writeUnit("hello.service", """
            [Unit]
            Description=hello
            [Service]
            ExecStart=/bin/sleep infinity
            [X-Fleet]
            MachineMetadata=role=kv

            """)
        let started = ContinuousClock.now
        let start = try c.fleetctl(["start", "/root/units/hello.service"])
        #expect(start.succeeded, "\(start)")
        #expect(start.stdout.contains("Unit hello.service launched on"), "\(start.stdout)")
        print("fleetctl start hello.service returned after \(ContinuousClock.now - started)")
        var hosts = try c.activeUnits()["hello.service"] ?? []
        #expect(hosts.count == 1)
        let helloIP = try #require(hosts.first)
        let helloHost = try #require(c.machine(at: helloIP))
        #expect(c.systemdActive("hello.service", on: helloHost))
        #expect(helloHost.name != c.worker.name, "MachineMetadata=role=kv kept it off the worker")

        // status and journal come from the machine that runs the unit, through the API (no SSH).
        let status = try c.fleetctl(["status", "hello.service"])
        #expect(status.succeeded && status.stdout.contains("hello.service") && status.stdout.contains("active (running)"),
                "\(status)")
        let journal = try c.fleetctl(["journal", "--lines", "5", "hello.service"])
        #expect(journal.succeeded && journal.stdout.contains("Started"), "\(journal)")
        // ssh resolves the unit's machine and runs the system ssh (a stand-in here prints its argv).
        let fakeSSH = try bed.run(on: c.worker, ["bash", "-c", "printf '#!/bin/sh\\necho ssh \"$@\"\\n' > /usr/local/bin/ssh && chmod +x /usr/local/bin/ssh"])
        #expect(fakeSSH.succeeded, "\(fakeSSH)")
        let ssh = try c.fleetctl(["ssh", "hello.service", "hostname"])
        #expect(ssh.succeeded && ssh.stdout.contains(helloIP) && ssh.stdout.hasSuffix("-- hostname\n"), "\(ssh)")
        let version = try c.fleetctl(["version"])
        #expect(version.succeeded && version.stdout.hasPrefix("fleetctl version "), "\(version)")

        // submit and load: the unit file reaches a machine's systemd (loaded, not started).
        try c.writeUnit("later.service", "[Service]\nExecStart=/bin/sleep infinity\n")
        let submit = try c.fleetctl(["submit", "/root/units/later.service"])
        #expect(submit.succeeded && submit.stdout == "Unit later.service inactive\n", "\(submit)")
        let load = try c.fleetctl(["load", "later.service"])
        #expect(load.succeeded && load.stdout.hasPrefix("Unit later.service loaded on "), "\(load)")
        let loadedIP = load.stdout.split(separator: "/").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let loadedHost = try #require(loadedIP.flatMap { c.machine(at: $0) }, "\(load.stdout)")
        #expect(try bed.run(on: loadedHost, ["systemctl", "show", "-p", "LoadState", "--value", "later.service"]).stdout
                == "loaded\n")
        #expect(!c.systemdActive("later.service", on: loadedHost))
        let destroyLater = try c.fleetctl(["destroy", "later.service"])
        #expect(destroyLater.succeeded, "\(destroyLater)")

        // Constraints: metadata pins to the worker, Conflicts spreads instances, Global runs everywhere.
        try c.writeUnit("pinned.service", "[Service]\nExecStart=/bin/sleep infinity\n[X-Fleet]\nMachineMetadata=role=worker\n")
        try c.writeUnit("web@.service", "[Service]\nExecStart=/bin/sleep infinity\n[X-Fleet]\nConflicts=web@*.service\n")
        try c.writeUnit("monitor.service", "[Service]\nExecStart=/bin/sleep infinity\n[X-Fleet]\nGlobal=true\n")
        let more = try c.fleetctl(["start", "/root/units/pinned.service", "/root/units/web@1.service",
                                   "/root/units/web@2.service", "/root/units/web@3.service", "/root/units/monitor.service"])
        #expect(more.succeeded, "\(more)")
        #expect(try Self.eventually(30) {
            let units = try c.activeUnits()
            return units["pinned.service"]?.count == 1 && units["monitor.service"]?.count == 4
                && (1...3).allSatisfy { units["web@\($0).service"]?.count == 1 }
        })
        let units = try c.activeUnits()
        #expect(units["pinned.service"] == [c.worker.address])
        let webHosts = Set((1...3).compactMap { units["web@\($0).service"]?.first })
        #expect(webHosts.count == 3, "Conflicts=web@*.service put instances on distinct machines: \(units)")
        for m in bed.machines { #expect(c.systemdActive("monitor.service", on: m), "global unit on \(m.name)") }

        // Killing fleetd (and with it the KV member in the same process) stops nothing: systemd
        // restarts fleetd, which adopts the running units without restarting them.
        let pidBefore = try c.mainPID("hello.service", on: helloHost)
        let kill = try bed.run(on: helloHost, ["systemctl", "kill", "--signal=SIGKILL", "--kill-whom=main", "fleetd.service"])
        #expect(kill.succeeded, "\(kill)")
        #expect(try Self.eventually(30) {
            let restarts = try bed.run(on: helloHost, ["systemctl", "show", "-p", "NRestarts", "--value", "fleetd.service"]).stdout
            let active = try bed.run(on: helloHost, ["systemctl", "is-active", "--quiet", "fleetd.service"]).succeeded
            return restarts.trimmingCharacters(in: .whitespacesAndNewlines) != "0" && active
        }, "systemd restarted fleetd (Restart=on-failure, Type=notify)")
        usleep(3_000_000)
        let pidAfter = try c.mainPID("hello.service", on: helloHost)
        #expect(pidAfter == pidBefore, "hello.service was not restarted")
        #expect(c.systemdActive("hello.service", on: helloHost))

        // Freezing the engine leader (SIGSTOP: it neither renews its lease nor resigns) lets another
        // engine schedule within the lease TTL. fleetctl runs on a machine that is not frozen.
        let leaderLookup = try c.engineLeaderIP()
        let leaderIP = try #require(leaderLookup)
        let leader = try #require(c.machine(at: leaderIP))
        let client = try #require(bed.machines.first { $0.name != leader.name })
        _ = try bed.run(on: leader, ["systemctl", "kill", "--signal=SIGSTOP", "--kill-whom=main", "fleetd.service"])
        let frozenAt = ContinuousClock.now
        // If the frozen fleetd held the KV leader too, the store is briefly unavailable until the
        // members elect another (about a second); fleetctl then fails and is retried: with exit 3
        // when the API did not answer in time, or with fleet's 503 "unable to communicate with
        // etcd" (exit 1) when the member answered the write "timed out" on noticing the leader
        // change (KVMember.abandonProposals), as fleet did when etcd failed a request.
        var late = try bed.run(on: client, ["bash", "-c",
            "mkdir -p /root/units && printf '[Service]\\nExecStart=/bin/sleep infinity\\n' > /root/units/late.service && fleetctl start --no-block /root/units/late.service"])
        for _ in 0..<5 where late.status == 3 || late.stderr.contains("unable to communicate with etcd") {
            usleep(1_000_000)
            late = try bed.run(on: client, ["fleetctl", "start", "--no-block", "/root/units/late.service"])
        }
        #expect(late.succeeded, "\(late)")
        #expect(try Self.eventually(45) {
            let out = try bed.run(on: client, ["fleetctl", "list-units", "--no-legend", "--fields", "unit,active"]).stdout
            return out.split(separator: "\n").contains { $0.hasPrefix("late.service") && $0.hasSuffix("active") }
        }, "a new engine leader scheduled late.service")
        print("engine leader frozen: late.service active after \(ContinuousClock.now - frozenAt)")
        _ = try bed.run(on: leader, ["systemctl", "kill", "--signal=SIGCONT", "--kill-whom=main", "fleetd.service"])
        #expect(Self.eventually(30) { (try? c.fleetctl(["list-machines", "--no-legend"]).stdout.split(separator: "\n").count) == 4 },
                "the thawed machine is back")

        // Killing a machine moves its units. (If the frozen machine ran hello.service, the unit moved
        // while it was frozen and the thawed agent stops its old copy: wait until one copy runs.)
        _ = try Self.eventually(30) {
            hosts = try c.activeUnits()["hello.service"] ?? []
            return hosts.count == 1
        }
        let victimIP = try #require(hosts.first)
        let victim = try #require(c.machine(at: victimIP))
        let killedAt = ContinuousClock.now
        try bed.kill(victim)
        #expect(try Self.eventually(60) {
            let now = try c.activeUnits()["hello.service"] ?? []
            return now.count == 1 && now[0] != victim.address
        }, "hello.service ran elsewhere after its machine was killed")
        print("machine killed: hello.service active elsewhere after \(ContinuousClock.now - killedAt)")
        // Right after a machine dies a listing can fail while the worker's store client fails over.
        var newIP: String?
        _ = try Self.eventually(10) {
            newIP = try c.activeUnits()["hello.service"]?.first
            return newIP != nil
        }
        let newHost = try #require(newIP.flatMap { c.machine(at: $0) })
        #expect(c.systemdActive("hello.service", on: newHost))

        // The other unit commands on the real cluster: cat, restart (a new process), stop, unload, destroy.
        let cat = try c.fleetctl(["cat", "hello.service"])
        #expect(cat.succeeded && cat.stdout.contains("MachineMetadata=role=kv"), "\(cat)")
        let pidBeforeRestart = try c.mainPID("hello.service", on: newHost)
        let restart = try c.fleetctl(["restart", "hello.service"])
        #expect(restart.succeeded, "\(restart)")
        #expect(try Self.eventually(30) {
            let pid = try c.mainPID("hello.service", on: newHost)
            return pid != pidBeforeRestart && pid != "0" && c.systemdActive("hello.service", on: newHost)
        }, "restart gave hello.service a new process")
        let stop = try c.fleetctl(["stop", "hello.service"])
        #expect(stop.succeeded && stop.stdout.contains("Unit hello.service loaded on"), "\(stop)")
        #expect(Self.eventually(30) { !c.systemdActive("hello.service", on: newHost) }, "stop stopped it in systemd")
        let unload = try c.fleetctl(["unload", "hello.service"])
        #expect(unload.succeeded && unload.stdout.contains("Unit hello.service inactive"), "\(unload)")
        #expect(try Self.eventually(30) {
            try bed.run(on: newHost, ["test", "-e", "/run/fleet/units/hello.service"]).status != 0
        }, "unload removed the unit file from the machine")
        let destroy = try c.fleetctl(["destroy", "hello.service"])
        #expect(destroy.succeeded && destroy.stdout == "Destroyed hello.service\n", "\(destroy)")
        let files = try c.fleetctl(["list-unit-files", "--no-legend"])
        #expect(files.succeeded && !files.stdout.contains("hello.service"), "\(files)")
        let gone = try c.fleetctl(["status", "hello.service"])
        #expect(!gone.succeeded && gone.stderr.contains("hello.service"), "\(gone)")
    }
}
