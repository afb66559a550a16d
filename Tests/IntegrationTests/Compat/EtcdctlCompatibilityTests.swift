import Testing
import TestSupport

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
