#if canImport(Glibc)
import Glibc
#endif
import Synchronization
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

    /// A member without a leader (cut off from its peers, mid-election) answers writes at once with
    /// etcd's 500 "request timed out": the client asks the next member, as etcd's own client does,
    /// and keeps using it. (Found by `FleetFaultTests`: a worker's presence refresh went to the cut-off
    /// member again and again, its record expired, and its pinned unit was stopped and restarted.)
    @Test func aMemberWithoutALeaderSendsTheClientToTheNext() async throws {
        let (backend, healthy, _) = try await EtcdV2StreamSubscriptionTests.ourServer()
        let calls = Mutex(0)
        let leaderless = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0), responder: ClosureResponder { _ in
            calls.withLock { $0 += 1 }
            return HTTPResponse(status: .internalServerError, contentType: "application/json",
                                text: #"{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":7}"# + "\n")
        })
        guard case .tcp(let host, let port) = healthy.boundAddress, case .tcp(let badHost, let badPort) = leaderless.boundAddress
        else { throw HTTPClientError.connectionClosed(.unix(path: "?")) }
        let client = EtcdV2Client(endpoints: [.tcp(host: badHost, port: badPort), .tcp(host: host, port: port)], timeout: 2)
        try await client.set("/refresh", value: "1")
        #expect(try backend.store.get("/1/refresh", recursive: false, sorted: false, now: 0).get().node.value == "1")
        try await client.set("/refresh", value: "2")
        #expect(calls.withLock { $0 } == 1, "the leaderless member is not asked again while the next one answers")

        // With only that member, the failure is "unavailable" (retry later), naming it.
        let alone = EtcdV2Client(endpoints: [.tcp(host: badHost, port: badPort)], timeout: 2)
        do {
            try await alone.set("/refresh", value: "3")
            Issue.record("expected unavailable")
        } catch let error as StoreClientError {
            #expect(error.isUnavailable, "\(error)")
            #expect(String(describing: error).contains("request timed out"))
        }
        await leaderless.shutdown()
        await healthy.shutdown()
    }

    /// etcd's "request is too large" (500, errorCode 300) is the same on every member: an answer, not
    /// a member failing, so it is not retried elsewhere.
    @Test func aValueTooLargeIsAnAnswerNotAFailover() async throws {
        let (_, healthy, _) = try await EtcdV2StreamSubscriptionTests.ourServer()
        guard case .tcp(let host, let port) = healthy.boundAddress else { throw HTTPClientError.connectionClosed(.unix(path: "?")) }
        let client = EtcdV2Client(endpoints: [.tcp(host: host, port: port)], timeout: 2)
        do {
            try await client.set("/big", value: String(repeating: "v", count: 2 << 20))
            Issue.record("expected the store's refusal")
        } catch let error as StoreClientError {
            guard case .server(300, _, let cause) = error else {
                Issue.record("expected .server(300, ...), got \(error)")
                return
            }
            #expect(cause.contains("request is too large"))
        }
        await healthy.shutdown()
    }

    /// A watch on an endpoint that went silent (partitioned away: no reset, no answer) moves to an
    /// endpoint that answers within a watch window and still sees the event. (Found by
    /// `FleetFaultTests`: the agent's watch stayed on a cut-off member and its view went stale.)
    @Test func watchLeavesAnEndpointThatWentSilent() async throws {
        let etcd = try RealEtcd()
        // A socket that listens and never answers: connections complete, requests hang.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0 && listen(fd, 16) == 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let silentPort = Int(UInt16(bigEndian: addr.sin_port))

        let direct = try EtcdV2Client(urls: etcd.clientURL)
        let real = try #require(HTTPEndpoint(url: etcd.clientURL))
        let client = EtcdV2Client(endpoints: [.tcp(host: "127.0.0.1", port: silentPort), real], timeout: 1, watchWindow: 1)
        let start = try await direct.set("/silent/before", value: "x").modifiedIndex
        let seen = WatchOutcome()
        let watch = Task {
            let event = try await client.waitForChange("/silent/key", recursive: false, fromIndex: start + 1)
            await seen.set(event.node.value)
        }
        try await Task.sleep(for: .milliseconds(200))
        _ = try await direct.set("/silent/key", value: "seen")
        let deadline = ContinuousClock.now + .seconds(20)
        while await seen.value == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        watch.cancel()
        let outcome = await seen.value
        #expect(outcome == "seen", "the watch did not leave the silent endpoint")
    }

    /// A one-shot watch on a member cut off from its peers (it answers, from a store that no longer
    /// changes, and its `/health` is 503) moves to a healthy member after a watch window.
    @Test func watchLeavesAnUnhealthyMember() async throws {
        let (client, direct, shutdown) = try await EtcdV2StreamSubscriptionTests.unhealthyThenHealthy()
        let start = try await direct.set("/unhealthy/before", value: "x").modifiedIndex
        let watch = Task { try await client.waitForChange("/unhealthy/key", recursive: false, fromIndex: start + 1).node.value }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await direct.set("/unhealthy/key", value: "seen")
        let outcome = await EtcdV2StreamSubscriptionTests.within(20) { try await watch.value }
        watch.cancel()
        #expect(outcome == "seen", "the watch stayed on the member that reported itself unhealthy")
        await shutdown()
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

/// What a watch task saw, read by the test while it polls.
private actor WatchOutcome {
    var value: String?
    func set(_ v: String?) { value = v }
}
