#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// kill -9 of members during write load: every acknowledged write is on every member afterwards.
@Suite(.serialized) struct KVDurabilityTests {
    @Test func acknowledgedWritesSurviveKillNine() async throws {
        let cluster = try KVProcessCluster(size: 3, snapshotCount: 300)
        defer { cluster.shutdown() }
        try cluster.waitHealthy()
        let client = HTTPClient()
        defer { client.shutdown() }
        let acknowledged = NIOLockedValueBox([String: String]())
        let endpoints = cluster.clientPorts.map { HTTPEndpoint.tcp(host: "127.0.0.1", port: $0) }

        // Four writers spread over the members, each with its own keys, while two members are
        // SIGKILLed and restarted one after the other; they go on until 150 writes were
        // acknowledged after the faults (or 60 s pass), however slow the machine is.
        let faultsDone = NIOLockedValueBox(false)
        let writers = (0..<4).map { w in
            Task {
                var n = 0
                var ackedAfterFaults = 0
                let deadline = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < deadline && ackedAfterFaults < 40 {
                    let key = "/durable/w\(w)-\(n)"
                    var h = HTTPHeaders()
                    h.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                    let ep = endpoints[(w + n) % endpoints.count]
                    if let r = try? await client.execute(.PUT, ep, "/v2/keys\(key)", headers: h,
                                                         body: ByteBuffer(string: "value=\(n)"), timeout: 3),
                       r.status.code < 300 {
                        acknowledged.withLockedValue { $0[key] = String(n) }
                        if faultsDone.withLockedValue({ $0 }) { ackedAfterFaults += 1 }
                    }
                    n += 1
                }
            }
        }
        try await Task.sleep(for: .milliseconds(1000))
        cluster.kill(0)
        try await Task.sleep(for: .milliseconds(800))
        try cluster.start(0)
        try await Task.sleep(for: .milliseconds(800))
        cluster.kill(2)
        try await Task.sleep(for: .milliseconds(600))
        try cluster.start(2)
        faultsDone.withLockedValue { $0 = true }
        for t in writers { await t.value }

        try cluster.waitHealthy()
        let acked = acknowledged.withLockedValue { $0 }
        #expect(acked.count > 100, "too few writes were acknowledged: \(acked.count)")
        // Every member, read locally once it has caught up, holds every acknowledged write.
        for (i, ep) in endpoints.enumerated() {
            var missing: [String] = []
            let deadline = ContinuousClock.now + .seconds(15)
            repeat {
                let r = try await client.execute(.GET, ep, "/v2/keys/durable?recursive=true", timeout: 5)
                let body = r.bodyString
                missing = acked.keys.filter { !body.contains("\"key\":\"\($0)\",\"value\":\"\(acked[$0]!)\"") }
                if missing.isEmpty { break }
                try await Task.sleep(for: .milliseconds(200))
            } while ContinuousClock.now < deadline
            #expect(missing.isEmpty, "member m\(i + 1) lacks \(missing.count) acknowledged writes, e.g. \(missing.prefix(3))")
        }
    }
}

/// etcd's own tools against a 3-member cluster of ours: the same etcdctl script as against a
/// real etcd, membership commands, and the python-etcd client.
@Suite(.serialized) struct KVClientToolTests {
    static let pythonScript = Testbed.repositoryRoot + "/Tests/IntegrationTests/Compat/python_etcd_transcript.py"

    func python(_ host: String, _ port: Int) throws -> String {
        let r = try ChildProcess.run(["/usr/bin/python3", Self.pythonScript, host, String(port)])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    @Test func pythonEtcdSeesTheSameAsAgainstEtcd() throws {
        let etcd = try RealEtcd()
        let cluster = try KVProcessCluster(size: 1)
        defer { cluster.shutdown() }
        try cluster.waitHealthy()
        let theirs = try python("127.0.0.1", Int(etcd.clientURL.split(separator: ":").last!)!)
        let ours = try python("127.0.0.1", cluster.clientPorts[0])
        let a = theirs.split(separator: "\n"), b = ours.split(separator: "\n")
        #expect(a.count == b.count && a.count >= 20)
        for (x, y) in zip(a, b) { #expect(x == y) }
    }

    @Test func etcdctlMembershipAndHealthOnThreeMembers() throws {
        let cluster = try KVProcessCluster(size: 3)
        defer { cluster.shutdown() }
        try cluster.waitHealthy()
        func ctl(_ args: [String]) throws -> ProcessResult {
            try ChildProcess.run(["etcdctl", "--endpoints", cluster.clientURLs.joined(separator: ",")] + args,
                                 environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
        }
        let list = try ctl(["member", "list"])
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.filter { $0.contains("isLeader=true") }.count == 1)
        #expect(lines.allSatisfy { $0.contains("name=m") && $0.contains("clientURLs=http://127.0.0.1:") })

        let health = try ctl(["cluster-health"])
        #expect(health.stdout.contains("cluster is healthy"))

        // Add a member (not started): listed as unstarted, the cluster is then degraded (exit 5).
        let newPeer = "http://127.0.0.1:\(freeLoopbackPort())"
        let add = try ctl(["member", "add", "m4", newPeer])
        #expect(add.status == 0, "\(add)")
        #expect(add.stdout.contains("Added member named m4 with ID"))
        #expect(add.stdout.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""))
        let listed = try ctl(["member", "list"]).stdout
        #expect(listed.contains("[unstarted]: peerURLs=\(newPeer)"))
        let degraded = try ctl(["cluster-health"])
        #expect(degraded.status == 5 && degraded.stdout.contains("cluster is degraded"))

        // Remove it again; an unknown ID is refused with etcdctl's message and exit 1.
        let id = listed.split(separator: "\n").first { $0.contains("unstarted") }.map { String($0.prefix { $0.isHexDigit }) } ?? ""
        let remove = try ctl(["member", "remove", id])
        #expect(remove.status == 0 && remove.stdout.contains("Removed member \(id) from cluster"), "\(remove)")
        let again = try ctl(["member", "remove", "1234567890abcdef"])
        #expect(again.status == 1)
        #expect(try ctl(["cluster-health"]).stdout.contains("cluster is healthy"))

        // Writes still commit on the 3 members after the reconfigurations.
        #expect(try ctl(["set", "/after-reconfig", "ok"]).stdout == "ok\n")
    }
}

/// The etcdctl script against a real Raft member (fleetd kv process) and a real etcd.
@Suite struct EtcdctlAgainstRaftMemberTests {
    @Test func sameTranscriptAsRealEtcd() throws {
        let etcd = try RealEtcd()
        let cluster = try KVProcessCluster(size: 1)
        defer { cluster.shutdown() }
        try cluster.waitHealthy()
        let ours = try EtcdctlTranscript.run(endpoint: cluster.clientURLs[0])
        let theirs = try EtcdctlTranscript.run(endpoint: etcd.clientURL)
        #expect(ours.count == theirs.count)
        for (step, (o, t)) in zip(EtcdctlTranscript.keySteps, zip(ours, theirs)) {
            #expect(o == t, "\(step)")
        }
    }
}
