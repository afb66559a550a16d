import Testing
@testable import KV

/// The store is driven by one apply loop while HTTP tasks read and watch concurrently.
@Suite struct ConcurrencyTests {
    @Test func concurrentWatchersSeeEveryEventInOrder() async throws {
        let store = Store(watcherBuffer: 1000)
        let writes = 200
        var watchers: [Watcher] = []
        for i in 0..<8 {
            watchers.append(try store.watch(i % 2 == 0 ? "/1" : "/1/dir", recursive: true, stream: true))
        }
        let results = await withTaskGroup(of: [UInt64].self) { group in
            for w in watchers {
                group.addTask {
                    var seen: [UInt64] = []
                    for await e in w.events {
                        seen.append(e.index)
                        if seen.count == writes { break }
                    }
                    w.cancel()
                    return seen
                }
            }
            // concurrent local readers
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<50 { _ = store.get("/1/dir", recursive: true, now: TTL.minExpireTime) }
                    return []
                }
            }
            for i in 0..<writes {
                store.apply(StoreCommand(now: TTL.minExpireTime,
                                         .set(key: "/1/dir/k\(i % 7)", value: "\(i)", dir: false, ttl: nil, refresh: false)))
            }
            var all: [[UInt64]] = []
            for await r in group where !r.isEmpty { all.append(r) }
            return all
        }
        #expect(results.count == 8)
        for r in results { #expect(r == Array(1...UInt64(writes))) }
        #expect(store.watcherCount == 0)
    }

    @Test func droppingAWatcherUnregistersIt() throws {
        let store = Store()
        do {
            let w = try store.watch("/1/k", stream: true)
            #expect(store.watcherCount == 1)
            _ = w
        }
        #expect(store.watcherCount == 0)
    }

    @Test func oneShotWatchersAcrossTasks() async throws {
        let store = Store()
        let ws = try (0..<16).map { i throws(StoreError) in try store.watch("/1/k\(i)") }
        async let got: [String?] = withTaskGroup(of: (Int, String?).self) { group in
            for (i, w) in ws.enumerated() {
                group.addTask {
                    var it = w.events.makeAsyncIterator()
                    return (i, await it.next()?.node.value)
                }
            }
            var out = [String?](repeating: nil, count: 16)
            for await (i, v) in group { out[i] = v }
            return out
        }
        for i in (0..<16).reversed() {
            store.apply(StoreCommand(now: TTL.minExpireTime, .set(key: "/1/k\(i)", value: "v\(i)", dir: false, ttl: nil, refresh: false)))
        }
        #expect(await got == (0..<16).map { "v\($0)" })
        #expect(store.watcherCount == 0)
    }
}
