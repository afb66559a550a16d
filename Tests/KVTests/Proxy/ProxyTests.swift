#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// A `--proxy on|readonly` process in front of an in-process three-member cluster, used the way
/// etcdctl uses a member: set, get, watch (long poll and stream), members; then failover and loss.
@Suite(.serialized) struct ProxyTests {
    /// A proxy configuration that learns the cluster from `--initial-cluster`.
    static func proxyConfig(for cluster: LoopbackCluster, mode: KVConfig.ProxyMode, dataDir: String) -> KVConfig {
        var c = KVConfig()
        c.name = "proxy"
        c.proxy = mode
        c.dataDir = dataDir
        c.listenClientURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        c.initialCluster = cluster.configs[0].initialCluster
        c.proxyFailureWait = 60_000
        return c
    }

    static func form(_ text: String) -> (HTTPHeaders, ByteBuffer) {
        var h = HTTPHeaders()
        h.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        return (h, ByteBuffer(string: text))
    }

    /// A PUT through the proxy, retried while an election makes the cluster answer 500.
    static func put(_ client: HTTPClient, _ proxy: HTTPEndpoint, _ key: String, _ value: String) async throws -> HTTPClientResponse {
        let (h, body) = form("value=\(value)")
        var r = try await client.execute(.PUT, proxy, "/v2/keys\(key)", headers: h, body: body, timeout: 15)
        for _ in 0..<5 where r.status == .internalServerError {
            try await Task.sleep(for: .milliseconds(200))
            r = try await client.execute(.PUT, proxy, "/v2/keys\(key)", headers: h, body: body, timeout: 15)
        }
        return r
    }

    /// Reads the next complete line of a streamed body, bounded in time.
    static func nextLine(_ iterator: inout AsyncThrowingStream<ByteBuffer, Error>.AsyncIterator, pending: inout String,
                         seconds: Double = 10) async throws -> String? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !pending.contains("\n") {
            guard ContinuousClock.now < deadline, let chunk = try await iterator.next() else { return nil }
            pending += String(decoding: chunk.readableBytesView, as: UTF8.self)
        }
        let line = pending.prefix { $0 != "\n" }
        pending = String(pending.dropFirst(line.count + 1))
        return String(line)
    }

    /// Waits (bounded) until the proxy forwards to every member: a cluster this young may not have
    /// published its client URLs when the proxy first asks.
    static func waitUntilLearned(_ proxy: KVProxy, _ cluster: LoopbackCluster) async throws {
        let clientURLs = Set(cluster.configs.map { $0.advertiseClientURLs[0].description })
        let learned = try await DiscoveryHarness.eventually { Set(proxy.memberClientURLs) == clientURLs }
        #expect(learned, "\(proxy.memberClientURLs)")
    }

    @Test func proxyForwardsTheClientAPIAndFailsOver() async throws {
        let cluster = try await LoopbackCluster(size: 3)
        _ = try await cluster.waitForLeader()
        let config = Self.proxyConfig(for: cluster, mode: .on, dataDir: "\(cluster.root)/proxy")
        let proxy = try await KVProxy.start(config: config, logger: Logger(label: "proxy"))
        let endpoint = HTTPEndpoint.tcp(host: "127.0.0.1", port: config.listenClientURLs[0].port)
        let client = HTTPClient()

        // It learned the members' client URLs and saved their peer URLs as etcd's proxy does.
        try await Self.waitUntilLearned(proxy, cluster)
        let saved = try ProxyClusterFile(dataDir: config.dataDir).read()
        #expect(Set(saved ?? []) == Set(cluster.configs.map { $0.initialAdvertisePeerURLs[0].description }))

        // set, get, members, version, health through the proxy.
        let set = try await Self.put(client, endpoint, "/p/a", "1")
        #expect(set.status == .created, "\(set.bodyString)")
        #expect(set.headers.first(name: "X-Etcd-Index") != nil)
        let get = try await client.execute(.GET, endpoint, "/v2/keys/p/a?quorum=true", timeout: 10)
        #expect(get.bodyString.contains(#""value":"1""#), "\(get.bodyString)")
        let members = try await client.execute(.GET, endpoint, "/v2/members", timeout: 10)
        #expect(MiniJSON.parse(members.bodyString)?["members"]?.arrayValue?.count == 3)
        let version = try await client.execute(.GET, endpoint, "/version", timeout: 10)
        #expect(version.bodyString.contains(#""etcdserver":"3.4.23""#))
        let machines = try await client.execute(.GET, endpoint, "/v2/machines", timeout: 10)
        #expect(Set(machines.bodyString.components(separatedBy: ", ")) == Set(cluster.configs.map { $0.advertiseClientURLs[0].description }))
        let stats = try await client.execute(.GET, endpoint, "/v2/stats/self", timeout: 10)
        #expect(stats.bodyString.contains(#""state":"State"#), "\(stats.bodyString)")
        let head = try await client.execute(.HEAD, endpoint, "/v2/keys/p/a", timeout: 10)
        #expect(head.status == .ok && head.body.readableBytes == 0 && head.headers.first(name: "X-Etcd-Index") != nil)
        let health = try await client.execute(.GET, endpoint, "/health", timeout: 10)
        #expect(health.status == .ok && health.bodyString.contains("true"), "\(health.bodyString)")

        // A long-poll watch relayed as it waits: the headers first, the event when the write lands.
        let index = UInt64(set.headers.first(name: "X-Etcd-Index") ?? "0")!
        let (watchHead, watchBody) = try await client.stream(.GET, endpoint, "/v2/keys/p/a?wait=true&waitIndex=\(index + 1)")
        #expect(watchHead.status == .ok)
        async let updated = Self.put(client, endpoint, "/p/a", "2")
        var watchIterator = watchBody.makeAsyncIterator()
        var pending = ""
        let event = try await Self.nextLine(&watchIterator, pending: &pending)
        #expect(event?.contains(#""value":"2""#) == true, "\(event ?? "no event")")
        _ = try await updated

        // A stream=true watch gets one line per event.
        let (_, streamBody) = try await client.stream(.GET, endpoint, "/v2/keys/s?wait=true&recursive=true&stream=true")
        var streamIterator = streamBody.makeAsyncIterator()
        var streamPending = ""
        for v in ["x", "y"] { _ = try await Self.put(client, endpoint, "/s/\(v)", v) }
        let first = try await Self.nextLine(&streamIterator, pending: &streamPending)
        let second = try await Self.nextLine(&streamIterator, pending: &streamPending)
        #expect(first?.contains(#""key":"/s/x""#) == true && second?.contains(#""key":"/s/y""#) == true, "\(first ?? "-") \(second ?? "-")")

        // Failover: with one member stopped every request still gets an answer.
        await cluster.stop(0)
        for i in 0..<6 {
            let r = try await client.execute(.GET, endpoint, "/v2/keys/p/a", timeout: 10)
            #expect(r.bodyString.contains(#""value":"2""#), "request \(i): \(r.status) \(r.bodyString)")
        }
        let afterStop = try await Self.put(client, endpoint, "/p/b", "3")
        #expect(afterStop.status == .created, "\(afterStop.bodyString)")

        // All members down: etcd's proxy errors, 502 while it tries them, then 503 with none left.
        await cluster.stop(1)
        await cluster.stop(2)
        let down = try await client.execute(.GET, endpoint, "/v2/keys/p/a", timeout: 10)
        #expect(down.status == .badGateway, "\(down.status) \(down.bodyString)")
        #expect(down.bodyString.contains("httpproxy: unable to get response from"), "\(down.bodyString)")
        let none = try await client.execute(.GET, endpoint, "/v2/keys/p/a", timeout: 10)
        #expect(none.status == .serviceUnavailable)
        #expect(none.bodyString == #"{"message":"httpproxy: zero endpoints currently available"}"#, "\(none.bodyString)")

        await proxy.shutdown()
        client.shutdown()
        await cluster.shutdown()
    }

    @Test func readonlyProxyRejectsWritesAndRestartsFromItsClusterFile() async throws {
        let cluster = try await LoopbackCluster(size: 3)
        _ = try await cluster.waitForLeader()
        _ = try await cluster.putRetrying(0, "/ro", "v")
        let config = Self.proxyConfig(for: cluster, mode: .readonly, dataDir: "\(cluster.root)/proxy")
        let proxy = try await KVProxy.start(config: config, logger: Logger(label: "proxy"))
        let endpoint = HTTPEndpoint.tcp(host: "127.0.0.1", port: config.listenClientURLs[0].port)
        let client = HTTPClient()
        try await Self.waitUntilLearned(proxy, cluster)

        let (h, body) = Self.form("value=w")
        for method in [HTTPMethod.PUT, .POST, .DELETE] {
            let r = try await client.execute(method, endpoint, "/v2/keys/ro", headers: h, body: body, timeout: 10)
            #expect(r.status == .notImplemented, "\(method): \(r.status)")
            #expect(r.body.readableBytes == 0)
        }
        let read = try await client.execute(.GET, endpoint, "/v2/keys/ro?quorum=true", timeout: 10)
        #expect(read.bodyString.contains(#""value":"v""#), "\(read.bodyString)")
        await proxy.shutdown()

        // Restarted with an --initial-cluster that names nobody reachable, the proxy still finds the
        // members through the peer URLs it saved.
        var restarted = config
        restarted.proxy = .on
        restarted.initialCluster = KVInitialCluster(members: [
            .init(name: "gone", peerURLs: [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())])
        ])
        let again = try await KVProxy.start(config: restarted, logger: Logger(label: "proxy"))
        try await Self.waitUntilLearned(again, cluster)
        let viaSaved = try await client.execute(.GET, endpoint, "/v2/keys/ro", timeout: 10)
        #expect(viaSaved.bodyString.contains(#""value":"v""#), "\(viaSaved.bodyString)")
        await again.shutdown()
        client.shutdown()
        await cluster.shutdown()
    }
}
