import Foundation
import Testing
import TestSupport
@testable import KV

/// etcdctl transcripts: the harness itself is checked here on two fresh real etcd members (which
/// must agree with each other exactly); the KV tests compare our members against the same script.
@Suite struct EtcdctlCompatibilityTests {
    @Test func transcriptsOfTwoFreshEtcdMembersAgree() throws {
        let a = try RealEtcd()
        let b = try RealEtcd()
        let ta = try EtcdctlTranscript.run(endpoint: a.clientURL)
        let tb = try EtcdctlTranscript.run(endpoint: b.clientURL)
        #expect(ta.count == EtcdctlTranscript.keySteps.count)
        for (x, y) in zip(ta, tb) { #expect(x == y) }
        // The script exercises errors too: several steps must fail with etcd's exit code 4.
        #expect(ta.filter { $0.contains("\nexit 4\n") }.count >= 5)
        #expect(ta.contains { $0.contains("Error:  100: Key not found (/ctl/missing)") })
    }
}

/// Our v2 API (store + HTTP, no replication) against a real one-member etcd: the same etcdctl
/// script must print the same thing, step by step, indexes included.
@Suite struct EtcdctlAgainstOurAPITests {
    @Test func sameTranscriptAsRealEtcd() async throws {
        let etcd = try RealEtcd()
        let port = freeLoopbackPort()
        let url = "http://127.0.0.1:\(port)"
        let backend = UnreplicatedBackend(name: "m1", peerURLs: ["http://127.0.0.1:\(freeLoopbackPort())"], clientURLs: [url])
        backend.startExpiry()
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: port),
                                                responder: ClientAPI(backend: backend))
        defer { Task { await server.shutdown() } }
        let ours = try await Testbed.runOffThread({ try EtcdctlTranscript.run(endpoint: $0) }, url)
        let theirs = try EtcdctlTranscript.run(endpoint: etcd.clientURL)
        #expect(ours.count == EtcdctlTranscript.keySteps.count)
        #expect(ours.filter { $0.contains("\nexit 0\n") }.count >= 20)
        if let dump = ProcessInfo.processInfo.environment["ETCDCTL_TRANSCRIPT"] {
            try ours.joined(separator: "\n").write(toFile: dump, atomically: true, encoding: .utf8)
        }
        for (step, (o, t)) in zip(EtcdctlTranscript.keySteps, zip(ours, theirs)) {
            #expect(o == t, "\(step)")
        }
    }
}
