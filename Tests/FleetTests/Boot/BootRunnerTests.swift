import Foundation
import Testing
import TestSupport
@testable import Fleet

/// The boot applied to a temporary root, with systemd calls recorded.
@Suite struct BootRunnerTests {
    final class RecordingSystemd: BootSystemd, @unchecked Sendable {
        private let lock = NSLock()
        private var _calls: [String] = []
        var failOn: String?
        var calls: [String] { lock.withLock { _calls } }
        private func record(_ call: String) throws {
            lock.withLock { _calls.append(call) }
            if call == failOn { throw BootError.systemd("refused \(call)") }
        }
        func daemonReload() async throws { try record("daemon-reload") }
        func enable(_ unit: String, runtime: Bool) async throws { try record("enable \(unit) \(runtime)") }
        func queue(_ command: CloudConfig.UnitCommand, _ unit: String) async throws { try record("\(command.rawValue) \(unit)") }
    }

    static func tempRoot() throws -> String {
        let dir = "/tmp/fleet-swift-boot-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func plan(_ text: String) throws -> BootPlan {
        try BootPlan.make(for: UserData(text: text), addresses: HostAddresses(publicIPv4: "10.0.0.5", privateIPv4: "10.0.0.5"))
    }

    func read(_ root: String, _ path: String) -> String? { try? String(contentsOfFile: root + path, encoding: .utf8) }

    @Test func appliesFilesUnitsAndTheFleetdDropIn() async throws {
        let root = try Self.tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let plan = try Self.plan("""
            #cloud-config
            hostname: kv1
            write_files:
              - path: /etc/motd
                permissions: "0600"
                content: |
                  hello
            coreos:
              etcd2:
                name: kv1
                initial-cluster: kv1=http://$private_ipv4:2380
                initial-advertise-peer-urls: http://$private_ipv4:2380
              fleet:
                public-ip: $private_ipv4
                metadata: role=kv
              units:
                - name: fleetd.service
                  command: start
                - name: extra.service
                  enable: true
                  content: |
                    [Service]
                    ExecStart=/bin/true
                    [Install]
                    WantedBy=multi-user.target
                - name: masked.service
                  mask: true
            """)
        let systemd = RecordingSystemd()
        var lines: [String] = []
        try await BootRunner(root: root, systemd: systemd).run(plan) { lines.append($0) }
        #expect(read(root, "/etc/hostname") == "kv1\n")
        #expect(read(root, "/etc/motd") == "hello\n")
        let mode = try FileManager.default.attributesOfItem(atPath: root + "/etc/motd")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let dropIn = try #require(read(root, "/run/systemd/system/fleetd.service.d/20-cloudinit.conf"))
        #expect(dropIn.contains("Environment=\"ETCD_NAME=kv1\""))
        #expect(dropIn.contains("Environment=\"ETCD_INITIAL_CLUSTER=kv1=http://10.0.0.5:2380\""))
        #expect(dropIn.contains("Environment=\"FLEET_PUBLIC_IP=10.0.0.5\""))
        #expect(read(root, "/etc/systemd/system/extra.service")?.contains("ExecStart=/bin/true") == true)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/etc/systemd/system/masked.service") == "/dev/null")
        #expect(systemd.calls == ["enable extra.service false", "daemon-reload", "start fleetd.service"])
        #expect(lines.count == plan.actions.count)
        // No temporary files are left behind.
        let leftovers = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter { $0.contains(".fleetd-boot-") }
        #expect(leftovers?.isEmpty == true)
    }

    @Test func aFailingStepStopsTheBootAndNamesTheStep() async throws {
        let root = try Self.tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let plan = try Self.plan("""
            #cloud-config
            coreos:
              units:
                - name: a.service
                  command: start
                - name: b.service
                  command: start
            """)
        let systemd = RecordingSystemd()
        systemd.failOn = "start a.service"
        await #expect {
            try await BootRunner(root: root, systemd: systemd).run(plan)
        } throws: { error in
            // Step 1 writes /etc/environment; step 2 is the first unit command.
            "\(error)" == "boot step 2 (start a.service) failed: systemd: refused start a.service"
        }
        #expect(systemd.calls == ["start a.service"])
    }

    @Test func updatesEnvironmentFilesKeepingOtherLines() throws {
        let root = try Self.tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try "KEEP=1\nCOREOS_PRIVATE_IPV4=old\n".write(toFile: root + "/etc/environment", atomically: true, encoding: .utf8)
        let runner = BootRunner(root: root, systemd: RecordingSystemd())
        try runner.updateEnvironment(root + "/etc/environment", values: [
            EnvironmentEntry(name: "COREOS_PRIVATE_IPV4", value: "10.0.0.5"),
            EnvironmentEntry(name: "COREOS_PUBLIC_IPV4", value: "1.2.3.4"),
        ], template: nil)
        #expect(read(root, "/etc/environment") == "KEEP=1\nCOREOS_PRIVATE_IPV4=10.0.0.5\nCOREOS_PUBLIC_IPV4=1.2.3.4\n")
    }

    @Test func anUnknownOwnerIsAnErrorAndLeavesNoFile() throws {
        let root = try Self.tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runner = BootRunner(root: root, systemd: RecordingSystemd())
        #expect(throws: BootError.unknownOwner("no-such-user-here")) {
            try runner.write(root + "/etc/x", Array("x".utf8), permissions: 0o644, owner: "no-such-user-here")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/x"))
    }

    @Test func invalidUserDataChangesNothing() throws {
        let path = "/tmp/fleet-swift-bad-userdata-\(getpid()).yaml"
        try "#cloud-config\nhostname: [not, a, string]\ncoreos:\n  fleet:\n    agent_ttl: soon\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: CloudConfigInvalid.self) { try BootPlan.load(path: path, environment: [:]) }
        #expect(throws: CloudConfigInvalid.self) { try BootPlan.load(path: path + ".missing", environment: [:]) }
    }
}
