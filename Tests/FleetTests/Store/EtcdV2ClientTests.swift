import Testing
import TestSupport
@testable import Fleet
@testable import KV

@Suite struct EtcdV2ClientTests {
    @Test func contractAgainstRealEtcd() async throws {
        let etcd = try RealEtcd()
        let client = try EtcdV2Client(urls: etcd.clientURL)
        try await StoreClientContract.run(client, prefix: "/contract")
    }

    @Test func unreachableEndpointsAreNamed() async throws {
        let port = freeLoopbackPort()
        let client = try EtcdV2Client(urls: "http://127.0.0.1:\(port)", timeout: 1)
        do {
            _ = try await client.get("/x", recursive: false, quorum: false)
            Issue.record("expected unavailable")
        } catch let error as StoreClientError {
            #expect(error.isUnavailable)
            #expect(String(describing: error).contains("127.0.0.1:\(port)"))
        }
    }

    @Test func failsOverToTheNextEndpoint() async throws {
        let etcd = try RealEtcd()
        let dead = "http://127.0.0.1:\(freeLoopbackPort())"
        let client = try EtcdV2Client(urls: "\(dead),\(etcd.clientURL)", timeout: 1)
        try await client.set("/failover", value: "ok")
        #expect(try await client.get("/failover").node?.value == "ok")
    }

    @Test func badURLsAreRejected() {
        #expect(throws: StoreClientError.self) { try EtcdV2Client(urls: "ftp://x") }
        #expect(throws: StoreClientError.self) { try EtcdV2Client(urls: "") }
    }
}
