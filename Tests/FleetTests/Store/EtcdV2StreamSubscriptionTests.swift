import NIOCore
import Synchronization
import Testing
import TestSupport
@testable import Fleet
@testable import KV

/// The remote client's continuous watch (one `stream=true` request): every event in order from an
/// index in the past, across streams the server closes, against our member and a real etcd (which
/// answers a stream from the past with one event only); the idle tick that lets it notice a
/// silent server; and a clean end on cancellation.
@Suite struct EtcdV2StreamSubscriptionTests {
    /// Our v2 API over HTTP on loopback.
    static func ourServer() async throws -> (UnreplicatedBackend, HTTPServer, EtcdV2Client) {
        let backend = UnreplicatedBackend(name: "s", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0),
                                                responder: ClientAPI(backend: backend))
        guard case .tcp(let host, let port) = server.boundAddress else { throw HTTPClientError.connectionClosed(.unix(path: "?")) }
        let client = EtcdV2Client(endpoints: [.tcp(host: host, port: port)], timeout: 5, watchWindow: 2)
        return (backend, server, client)
    }

    /// `body`'s value, or nil if it throws or takes longer than `seconds` (then left running).
    static func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T?) async -> T? {
        let first = FirstAnswer<T>()
        return await withCheckedContinuation { continuation in
            first.wait(continuation)
            Task { first.answer((try? await body()) ?? nil) }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                first.answer(nil)
            }
        }
    }

    static func take(_ n: Int, from s: any StoreWatchSubscription) async throws -> [StoreWatchEvent] {
        var out: [StoreWatchEvent] = []
        while out.count < n, let e = try await s.next() { out.append(e) }
        return out
    }

    /// Writes before the subscription starts (a gap fetched with one-shot watches), a burst while
    /// nobody consumes, a stream the server ends (`interrupt`; it is registered again and the gap
    /// fetched) and live events: all arrive once, in order, and nothing under other keys.
    static func checkGapless(_ client: EtcdV2Client, prefix: String, interrupt: (() throws -> Void)? = nil)
        async throws
    {
        let first = try await client.set("\(prefix)/k0", value: "0").modifiedIndex
        var written = [first]
        for i in 1..<5 { written.append(try await client.set("\(prefix)/k\(i % 3)", value: "\(i)").modifiedIndex) }
        let sub = try client.subscribe(prefix, recursive: true, fromIndex: first)
        #expect(sub is EtcdV2StreamSubscription)
        #expect(try await take(5, from: sub).map(\.node.modifiedIndex) == written)
        var burst: [UInt64] = []
        for i in 0..<300 {
            burst.append(try await client.set("\(prefix)/b\(i % 7)", value: "\(i)").modifiedIndex)
            if i % 50 == 0 { try await client.set("\(prefix)-other/x", value: "\(i)") }
        }
        let seen = try await take(burst.count, from: sub)
        #expect(seen.map(\.node.modifiedIndex) == burst)
        #expect(seen.allSatisfy { $0.node.key.hasPrefix("\(prefix)/") })
        #expect(seen.last?.node.value == "299")

        if let interrupt {
            try interrupt()
            var after: [UInt64] = []
            for i in 0..<20 { after.append(try await client.set("\(prefix)/a\(i % 3)", value: "\(i)").modifiedIndex) }
            #expect(try await take(after.count, from: sub).map(\.node.modifiedIndex) == after)
        }

        let waiting = Task { try await sub.next() }
        try await Task.sleep(for: .milliseconds(100))
        let live = try await client.set("\(prefix)/live", value: "x").modifiedIndex
        #expect(try await waiting.value?.node.modifiedIndex == live)
        sub.cancel()
        #expect(try await sub.next() == nil)
    }

    @Test func gaplessAgainstOurMember() async throws {
        let (backend, server, client) = try await Self.ourServer()
        // Restoring the store from a snapshot closes every watcher, as etcd's recovery does.
        try await Self.checkGapless(client, prefix: "/stream") { try backend.store.restore(backend.store.snapshot()) }
        // Cancelling closed the stream: the store forgets the watcher.
        #expect(await eventually { backend.store.watcherCount == 0 })
        await server.shutdown()
    }

    @Test func gaplessAgainstRealEtcd() async throws {
        let etcd = try RealEtcd()
        let client = try EtcdV2Client(urls: etcd.clientURL)
        try await Self.checkGapless(client, prefix: "/stream")
    }

    /// Events of the gap are handed out as soon as they are fetched, even when writes to other keys
    /// follow them and no later matching write comes to end the gap.
    @Test func gapEventsArriveWithoutALaterMatchingWrite() async throws {
        let (_, server, client) = try await Self.ourServer()
        let first = try await client.set("/gap/a", value: "0").modifiedIndex
        let second = try await client.set("/gap/b", value: "1").modifiedIndex
        try await client.set("/elsewhere/x", value: "2")
        let sub = try client.subscribe("/gap", recursive: true, fromIndex: first)
        let seen = await Self.within(20) { try await Self.take(2, from: sub).map(\.node.modifiedIndex) }
        #expect(seen == [first, second], "the gap's events were held back until a later write")
        let after = try await client.set("/gap/c", value: "3").modifiedIndex
        #expect(await Self.within(20) { try await sub.next()?.node.modifiedIndex } == after)
        sub.cancel()
        await server.shutdown()
    }

    /// Events the history no longer holds are reported, never skipped.
    @Test func reportsHistoryClearedWhenTheGapIsGone() async throws {
        let (_, server, client) = try await Self.ourServer()
        let start = try await client.set("/h/a", value: "0").modifiedIndex
        for i in 0..<1100 { try await client.set("/h/b", value: "\(i)") }
        let sub = try client.subscribe("/h", recursive: true, fromIndex: start)
        await #expect(throws: StoreClientError.self) { try await sub.next() }
        sub.cancel()
        await server.shutdown()
    }

    /// The idle tick: a stream with nothing to say yields an empty chunk after `idleTick`, again
    /// after each quiet period, and `close()` ends it from another task.
    @Test func quietStreamYieldsIdleTicksAndCloses() async throws {
        let (_, server, client) = try await Self.ourServer()
        let http = HTTPClient()
        guard case .tcp(let host, let port) = server.boundAddress else { return }
        // Taken before the stream opens: its ticks count from then, and a loaded machine may take a
        // while to hand over the open stream.
        let started = ContinuousClock.now
        let stream = try await http.openStream(.GET, .tcp(host: host, port: port),
                                               "/v2/keys/quiet?wait=true&stream=true", idleTick: 0.2)
        #expect(stream.head.status == .ok)
        var iterator = stream.body.makeAsyncIterator()
        #expect(try await iterator.next()?.readableBytes == 0)
        #expect(try await iterator.next()?.readableBytes == 0)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        _ = try await client.set("/quiet", value: "now")
        // More ticks may come first on a loaded machine; the event is the first non-empty chunk.
        var chunk = try await iterator.next()
        while let c = chunk, c.readableBytes == 0 { chunk = try await iterator.next() }
        #expect(chunk.map { String(buffer: $0) }?.contains(#""value":"now""#) == true)
        stream.close()
        await #expect(throws: (any Error).self) { while try await iterator.next() != nil {} }
        await server.shutdown()
    }

    /// A stream whose endpoint goes silent (partitioned or stopped: no reset, no answer, new
    /// connections complete but are never answered) is registered again on an endpoint that
    /// answers, and the events written meanwhile arrive. Found by `FleetFaultTests`: a worker whose
    /// `job/` stream was on the cut-off member never heard of a unit scheduled to it.
    @Test func subscriptionLeavesAnEndpointThatWentSilent() async throws {
        let t = try await Self.streamThenPauseProxy("/silent", watchWindow: 1)
        defer { t.proxy.close() }
        // A stuck `next()` cannot be cancelled: fail after a bound instead of hanging the run.
        let moved = await Self.within(30) { try await t.sub.next()?.node.value }
        #expect(moved == "while paused", "the stream stayed on the silent endpoint or held its gap back")
        _ = try await t.direct.set("/silent/k", value: "after")
        #expect(await Self.within(30) { try await t.sub.next()?.node.value } == "after")
        t.sub.cancel()
        await t.server.shutdown()
    }

    /// Another request of the same client finding the stream's endpoint failing (as the heartbeat
    /// does every second or so) moves the stream at once, long before its idle check (60 s here).
    @Test func subscriptionMovesWhenAnotherRequestFindsItsEndpointFailing() async throws {
        let t = try await Self.streamThenPauseProxy("/failing", watchWindow: 60)
        defer { t.proxy.close() }
        // An ordinary read through the client: it times out on the proxy (1 s), then answers directly.
        _ = try await t.client.get("/elsewhere/k", recursive: false, quorum: false)
        let moved = await Self.within(20) { try await t.sub.next()?.node.value }
        #expect(moved == "while paused", "the stream stayed on the endpoint the read found failing")
        t.sub.cancel()
        await t.server.shutdown()
    }

    /// A subscription of `prefix` through a client (1 s timeout) whose first endpoint is a pausable
    /// proxy to our member: one event arrives through the proxy, then the proxy is paused (silent:
    /// no reset, no answer) and `<prefix>/k = "while paused"` is written directly, followed by a write
    /// elsewhere (so the gap fetched on the other endpoint ends below the store index).
    static func streamThenPauseProxy(_ prefix: String, watchWindow: Double) async throws
        -> (sub: any StoreWatchSubscription, client: EtcdV2Client, direct: EtcdV2Client, server: HTTPServer,
            proxy: PausableTCPProxy)
    {
        let (_, server, direct) = try await ourServer()
        guard case .tcp(let host, let port) = server.boundAddress else { throw HTTPClientError.connectionClosed(.unix(path: "?")) }
        let proxy = try PausableTCPProxy(targetPort: port)
        let client = EtcdV2Client(endpoints: [.tcp(host: "127.0.0.1", port: proxy.port), .tcp(host: host, port: port)],
                                  timeout: 1, watchWindow: watchWindow)
        let start = try await direct.set("\(prefix)/k", value: "0").modifiedIndex
        let sub = try client.subscribe(prefix, recursive: true, fromIndex: start + 1)
        let waiting = Task { try await sub.next() }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await direct.set("\(prefix)/k", value: "through the proxy")
        #expect(try await waiting.value?.node.value == "through the proxy")
        proxy.pause()
        try await Task.sleep(for: .milliseconds(200))  // the proxy's threads notice
        _ = try await direct.set("\(prefix)/k", value: "while paused")
        try await direct.set("/elsewhere/k", value: "x")
        return (sub, client, direct, server, proxy)
    }

    /// A member cut off from its peers answers reads from a store that no longer changes, and its
    /// `/health` says so (503). The stream leaves it at its idle check and registers on a healthy
    /// member, although the client's other requests keep going to the unhealthy one first.
    @Test func subscriptionLeavesAnUnhealthyMember() async throws {
        let t = try await Self.unhealthyThenHealthy()
        let start = try await t.direct.set("/cut/k", value: "0").modifiedIndex
        let sub = try t.client.subscribe("/cut", recursive: true, fromIndex: start + 1)
        let waiting = Task { try await sub.next()?.node.value }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await t.direct.set("/cut/k", value: "on the healthy member")
        try await t.direct.set("/elsewhere/k", value: "x")
        let moved = await Self.within(20) { try await waiting.value }
        #expect(moved == "on the healthy member", "the stream stayed on the member that reported itself unhealthy")
        sub.cancel()
        await t.shutdown()
    }

    /// A client (1 s timeout, 1 s watch window) whose first endpoint is an ``UnhealthyMember`` over a
    /// store nobody writes, the second our healthy member; `direct` writes to the healthy one.
    static func unhealthyThenHealthy() async throws
        -> (client: EtcdV2Client, direct: EtcdV2Client, shutdown: @Sendable () async -> Void)
    {
        let (_, healthy, direct) = try await ourServer()
        let stale = UnreplicatedBackend(name: "stale", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let sick = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0),
                                              responder: UnhealthyMember(inner: ClientAPI(backend: stale)))
        guard case .tcp(let host, let port) = healthy.boundAddress, case .tcp(let sickHost, let sickPort) = sick.boundAddress
        else { throw HTTPClientError.connectionClosed(.unix(path: "?")) }
        let client = EtcdV2Client(endpoints: [.tcp(host: sickHost, port: sickPort), .tcp(host: host, port: port)],
                                  timeout: 1, watchWindow: 1)
        return (client, direct, {
            await sick.shutdown()
            await healthy.shutdown()
        })
    }
}

/// A member whose `/health` answers 503 (cut off from its peers) while it still serves reads.
struct UnhealthyMember: HTTPResponder {
    let inner: ClientAPI
    func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        request.rawPath == "/health" ? nil : inner.respondImmediately(to: request)
    }
    func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard request.rawPath != "/health" else {
            return HTTPResponse(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                                text: #"{"health":"false"}"#)
        }
        return await inner.respond(to: request)
    }
}

/// Resumes a continuation with the first answer given; later answers are dropped.
private final class FirstAnswer<T: Sendable>: Sendable {
    private let slot = Mutex<CheckedContinuation<T?, Never>?>(nil)
    func wait(_ continuation: CheckedContinuation<T?, Never>) { slot.withLock { $0 = continuation } }
    func answer(_ value: T?) {
        slot.withLock { waiting in
            waiting?.resume(returning: value)
            waiting = nil
        }
    }
}
