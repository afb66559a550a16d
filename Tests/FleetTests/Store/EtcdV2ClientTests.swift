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

    /// fleet's etcd_cafile / etcd_certfile / etcd_keyfile against an etcd that requires client
    /// certificates: the whole store contract (watches included) over TLS.
    @Test func contractOverTLSAgainstRealEtcd() async throws {
        let pki = try TestCertificates()
        let etcd = try RealEtcd(tls: pki)
        var config = FleetConfig()
        config.etcdServers = [etcd.clientURL]
        config.etcdCAFile = pki.caFile
        config.etcdCertFile = pki.clientCert
        config.etcdKeyFile = pki.clientKey
        let client = try FleetDaemon.remoteStore(config: config)
        try await StoreClientContract.run(client, prefix: "/contract-tls")

        // Without a client certificate etcd refuses the connection: the store is unavailable. (With
        // TLS 1.3 the client's handshake completes before etcd checks the certificate, and etcd
        // closes the connection without an alert, so the error is the closed connection.)
        let anonymous = try EtcdV2Client(urls: etcd.clientURL, timeout: 2, tls: TLSFiles(caFile: pki.caFile))
        do {
            _ = try await anonymous.get("/x", recursive: false, quorum: false)
            Issue.record("etcd answered a client without a certificate")
        } catch let error as StoreClientError {
            #expect(error.isUnavailable)
            #expect(String(describing: error).contains("127.0.0.1"))
        }
        // A missing CA file is named, with the options it came from.
        config.etcdCAFile = "/nonexistent/ca.pem"
        #expect {
            _ = try FleetDaemon.remoteStore(config: config)
        } throws: { error in
            "\(error)".contains("etcd_cafile") && "\(error)".contains("/nonexistent/ca.pem")
        }
    }

    @Test func badURLsAreRejected() {
        #expect(throws: StoreClientError.self) { try EtcdV2Client(urls: "http://a:1,https://b:2") }
        #expect(throws: StoreClientError.self) { try EtcdV2Client(urls: "ftp://x") }
        #expect(throws: StoreClientError.self) { try EtcdV2Client(urls: "") }
    }
}
