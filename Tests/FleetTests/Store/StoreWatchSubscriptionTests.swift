import Foundation
import KV
import Testing
@testable import Fleet

/// The continuous watch behind the agents' `job/` feed: every event in order from an index, no gap
/// when the consumer is slow (the store replays from history), `historyCleared` when the history no
/// longer reaches back, and a clean end on cancellation. Run on the in-process stream and on the
/// portable polling loop.
@Suite struct StoreWatchSubscriptionTests {
    /// A bare user-key store with a small stream buffer and history, to force overflows.
    static func store(buffer: Int = 4, history: Int = 1000) -> Store {
        Store(historyCapacity: history, watcherBuffer: buffer)
    }

    @discardableResult
    static func set(_ store: Store, _ key: String, _ value: String) -> UInt64 {
        let outcome = store.apply(StoreCommand(now: TTL.minExpireTime,
                                               .set(key: KeyPath.userKey(key), value: value, dir: false, ttl: nil,
                                                    refresh: false)))
        guard case .success(let e)? = outcome.result else { return 0 }
        return e.node.modifiedIndex
    }

    static func take(_ n: Int, from s: any StoreWatchSubscription) async throws -> [StoreWatchEvent] {
        var out: [StoreWatchEvent] = []
        while out.count < n, let e = try await s.next() { out.append(e) }
        return out
    }

    @Test func inProcessDeliversEveryEventInOrderWithoutGapWhileTheConsumerLags() async throws {
        let store = Self.store(buffer: 4)
        let first = Self.set(store, "/w/pre", "0")
        let sub = try InProcessWatchSubscription(store: store, key: "/w", recursive: true, fromIndex: first, buffer: 4)
        // 300 writes while nobody consumes: the 4-event stream buffer overflows many times over,
        // but the history (1,000) still holds them, so the subscription re-registers and replays.
        var written: [UInt64] = [first]
        for i in 0..<300 { written.append(Self.set(store, "/w/k\(i % 5)", "\(i)")) }
        Self.set(store, "/elsewhere", "x")
        let seen = try await Self.take(written.count, from: sub)
        #expect(seen.map(\.node.modifiedIndex) == written)
        #expect(seen.allSatisfy { $0.node.key.hasPrefix("/w/") })
        #expect(seen.last?.node.value == "299")
        sub.cancel()
        #expect(try await sub.next() == nil)
        #expect(store.watcherCount == 0)
    }

    @Test func inProcessReportsHistoryClearedWhenTheHistoryNoLongerReachesBack() async throws {
        let store = Self.store(buffer: 2, history: 10)
        let start = Self.set(store, "/w/a", "0")
        let sub = try InProcessWatchSubscription(store: store, key: "/w", recursive: true, fromIndex: start + 1,
                                                 buffer: 2)
        for i in 0..<50 { Self.set(store, "/w/b", "\(i)") }
        // The two buffered events arrive, then the gap is reported, never skipped.
        let delivered = try await Self.take(2, from: sub)
        #expect(delivered.map(\.node.modifiedIndex) == [start + 1, start + 2])
        await #expect(throws: StoreClientError.historyCleared(currentIndex: start + 50)) { try await sub.next() }
        // Starting in the past beyond the history fails at once.
        #expect(throws: StoreClientError.self) {
            _ = try InProcessWatchSubscription(store: store, key: "/w", recursive: true, fromIndex: start)
        }
    }

    @Test func inProcessWaitsForLaterEventsAndEndsOnTaskCancellation() async throws {
        let store = Self.store()
        let sub = try InProcessWatchSubscription(store: store, key: "/w/x", recursive: false,
                                                 fromIndex: store.currentIndex + 1)
        let consumer = Task { try await Self.take(2, from: sub) }
        try await Task.sleep(for: .milliseconds(50))
        Self.set(store, "/w/y", "not mine")
        let a = Self.set(store, "/w/x", "1")
        let b = Self.set(store, "/w/x", "2")
        #expect(try await consumer.value.map(\.node.modifiedIndex) == [a, b])

        let waiting = Task { try await sub.next() }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        #expect(try await waiting.value == nil)
        sub.cancel()
        #expect(store.watcherCount == 0)
    }

    @Test func pollingLoopIsGaplessAndReportsHistoryCleared() async throws {
        let backend = UnreplicatedBackend(name: "p", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let client = InProcessStoreClient(backend: backend)
        let first = try await client.set("/p/a", value: "0").modifiedIndex
        let sub = PollingWatchSubscription(store: client, key: "/p", recursive: true, fromIndex: first)
        var written = [first]
        for i in 0..<20 { written.append(try await client.set("/p/k\(i % 3)", value: "\(i)").modifiedIndex) }
        #expect(try await Self.take(written.count, from: sub).map(\.node.modifiedIndex) == written)
        // More than the 1,000 events of history go by without a read: the loop says so.
        for i in 0..<1100 { try await client.set("/p/k", value: "\(i)") }
        await #expect(throws: StoreClientError.self) { try await sub.next() }
        sub.cancel()
        #expect(try await sub.next() == nil)
    }

    @Test func inProcessClientSubscribesNatively() async throws {
        let backend = UnreplicatedBackend(name: "n", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let client: any StoreClient = InProcessStoreClient(backend: backend)
        let sub = try client.subscribe("/n", recursive: true, fromIndex: 1)
        #expect(sub is InProcessWatchSubscription)
        let written = try await client.set("/n/a", value: "1").modifiedIndex
        #expect(try await sub.next()?.node.modifiedIndex == written)
        sub.cancel()
    }
}
