#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// `fleetd kv` processes bootstrapping through another `fleetd kv` as the discovery service, and
/// `fleetd kv` proxies in front of them, driven with etcdctl as an operator would.
@Suite(.serialized) struct KVDiscoveryProxyProcessTests {
    static func etcdctl(_ endpoint: String, _ args: [String]) throws -> ProcessResult {
        try ChildProcess.run(["etcdctl", "--no-sync", "--endpoints", endpoint] + args,
                             environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
    }

    /// Polls until `condition` holds or `seconds` pass.
    static func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    @Test func discoveryMembersAndProxiesWithEtcdctl() throws {
        let service = try KVProcessCluster(size: 1)
        defer { service.shutdown() }
        try service.waitHealthy()
        let token = "proc\(UInt32.random(in: 0...UInt32.max))"
        let url = "\(service.clientURLs[0])/v2/keys/_etcd/registry/\(token)"
        #expect(try Self.etcdctl(service.clientURLs[0], ["set", "/_etcd/registry/\(token)/_config/size", "3"]).succeeded)

        var processes: [BackgroundProcess] = []
        defer { for p in processes { p.terminate(grace: 3) } }
        func start(_ name: String, _ extra: [String], environment: [String: String]) throws -> String {
            let client = "http://127.0.0.1:\(freeLoopbackPort())"
            let peer = "http://127.0.0.1:\(freeLoopbackPort())"
            processes.append(try BackgroundProcess([
                KVProcessCluster.fleetd, "kv", "-name", name, "-data-dir", "\(service.root)/\(name)",
                "-listen-client-urls", client, "-advertise-client-urls", client,
                "-listen-peer-urls", peer, "-initial-advertise-peer-urls", peer,
                "-heartbeat-interval", "50", "-election-timeout", "500",
            ] + extra, logPath: "\(service.root)/\(name).log", environment: environment))
            return client
        }
        // Three members told only the discovery URL (through ETCD_DISCOVERY, as a cloud-config drop-in does).
        let members = try ["d1", "d2", "d3"].map { try start($0, [], environment: ["ETCD_DISCOVERY": url]) }
        let healthy = try Self.eventually(30) {
            let r = try ChildProcess.run(["etcdctl", "--endpoints", members.joined(separator: ","), "cluster-health"],
                                         environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
            return r.succeeded && r.stdout.contains("cluster is healthy")
        }
        #expect(healthy, "\(processes.map { $0.log().suffix(1500) })")
        let list = try Self.etcdctl(members[0], ["member", "list"])
        #expect(list.stdout.split(separator: "\n").count == 3, "\(list)")
        for name in ["d1", "d2", "d3"] { #expect(list.stdout.contains("name=\(name) ")) }

        // A fourth with --discovery-fallback exit stops with etcd's message.
        _ = try start("d4", ["--discovery", url, "--discovery-fallback", "exit"], environment: [:])
        let fourth = processes.last!
        #expect(Self.eventually(20) { !fourth.isRunning }, "a fourth member kept running: \(fourth.log())")
        #expect(fourth.log().contains("failed to join discovery cluster (discovery: cluster is full)"), "\(fourth.log())")

        // A read-write proxy learning the cluster from discovery, and a readonly one from --initial-cluster.
        let proxy = try start("p1", ["--discovery", url], environment: ["ETCD_PROXY": "on"])
        let peerOfD1 = list.stdout.split(separator: "\n").first { $0.contains("name=d1 ") }
            .flatMap { $0.split(separator: " ").first { $0.hasPrefix("peerURLs=") } }.map { String($0.dropFirst("peerURLs=".count)) }
        let readonly = try start("p2", ["-proxy", "readonly", "-initial-cluster", "d1=\(peerOfD1 ?? "")"], environment: [:])
        let ready = try Self.eventually(20) { try Self.etcdctl(proxy, ["set", "/via/proxy", "hello"]).succeeded }
        #expect(ready, "\(processes.last!.log())")
        #expect(try Self.etcdctl(members[2], ["get", "--quorum", "/via/proxy"]).stdout == "hello\n")
        #expect(try Self.etcdctl(proxy, ["get", "/via/proxy"]).stdout == "hello\n")

        // A watch through the proxy sees a write made directly on a member.
        let watch = try BackgroundProcess(["etcdctl", "--no-sync", "--endpoints", proxy, "watch", "/via/w"],
                                          logPath: "\(service.root)/watch.log", environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
        // The watch may not be registered yet when the first write lands: write again until it ends.
        var seen = false
        for attempt in 0..<20 where !seen {
            _ = try Self.etcdctl(members[1], ["set", "/via/w", "w\(attempt)"])
            seen = Self.eventually(1) { !watch.isRunning }
        }
        #expect(seen && watch.log().contains("w"), "\(watch.log())")
        watch.kill()

        // The readonly proxy answers reads and refuses writes (501: etcdctl fails).
        let read = try Self.eventually(20) { try Self.etcdctl(readonly, ["get", "/via/proxy"]).stdout == "hello\n" }
        #expect(read)
        #expect(!(try Self.etcdctl(readonly, ["set", "/via/proxy", "nope"]).succeeded))
        #expect(try Self.etcdctl(members[0], ["get", "--quorum", "/via/proxy"]).stdout == "hello\n")
    }
}
