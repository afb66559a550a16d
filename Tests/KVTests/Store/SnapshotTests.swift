import Testing
@testable import KV

@Suite struct SnapshotTests {
    /// A varied command log touching every operation.
    func log(start: Int64) -> [StoreCommand] {
        var t = start
        func c(_ op: StoreOperation) -> StoreCommand {
            t += 100_000_000
            return StoreCommand(now: t, op)
        }
        return [
            c(.set(key: "/1/a", value: "1", dir: false, ttl: nil, refresh: false)),
            c(.set(key: "/1/d/x", value: "<&>", dir: false, ttl: 5, refresh: false)),
            c(.create(key: "/1/q", value: "job", dir: false, ttl: 60, inOrder: true)),
            c(.create(key: "/1/q", value: "", dir: true, ttl: nil, inOrder: true)),
            c(.update(key: "/1/a", value: "2", ttl: 100, refresh: false)),
            c(.update(key: "/1/a", value: "", ttl: 200, refresh: true)),
            c(.compareAndSwap(key: "/1/a", value: "3", prevValue: "2", prevIndex: 0, ttl: nil, refresh: false)),
            c(.compareAndSwap(key: "/1/a", value: "4", prevValue: "nope", prevIndex: 0, ttl: nil, refresh: false)),
            c(.set(key: "/1/_hidden", value: "h", dir: false, ttl: nil, refresh: false)),
            c(.set(key: "/1/e", value: "", dir: true, ttl: 1, refresh: false)),
            c(.compareAndDelete(key: "/1/_hidden", prevValue: "h", prevIndex: 0)),
            c(.get(key: "/1", recursive: true, sorted: true)),
            c(.expire),
            c(.set(key: "/1/d/y", value: "é\n", dir: false, ttl: nil, refresh: false)),
            c(.delete(key: "/1/e", dir: true, recursive: false)),
            c(.delete(key: "/1/missing", dir: false, recursive: false)),
        ]
    }

    @Test func commandCodecRoundTrips() throws {
        for cmd in log(start: TTL.minExpireTime) + [StoreCommand(now: -1, .expire)] {
            #expect(try StoreCommand(decoding: cmd.encoded()) == cmd)
        }
        #expect(throws: StoreDecodingError.truncated) { try StoreCommand(decoding: [1, 0, 0]) }
        #expect(throws: StoreDecodingError.unsupportedVersion(9)) { try StoreCommand(decoding: [9]) }
        var bytes = StoreCommand(now: 5, .expire).encoded()
        bytes.append(0)
        #expect(throws: StoreDecodingError.invalid("trailing bytes")) { try StoreCommand(decoding: bytes) }
    }

    @Test func sameLogSameHashAndSnapshot() throws {
        let a = Store(), b = Store()
        for cmd in log(start: 1_795_473_695_000_000_000) {
            let encoded = cmd.encoded()
            a.apply(try StoreCommand(decoding: encoded))
            b.apply(try StoreCommand(decoding: encoded))
        }
        #expect(a.currentIndex == b.currentIndex)
        #expect(a.snapshot() == b.snapshot())
        #expect(a.hash() == b.hash())
        b.apply(StoreCommand(now: 1_795_473_699_000_000_000, .set(key: "/1/z", value: "", dir: false, ttl: nil, refresh: false)))
        #expect(a.hash() != b.hash())
    }

    @Test func restoreReproducesStateHistoryAndTTLs() async throws {
        let a = Store()
        let start: Int64 = 1_795_473_695_000_000_000
        for cmd in log(start: start) { a.apply(cmd) }
        let snap = a.snapshot()
        let b = Store()
        b.apply(StoreCommand(now: start, .set(key: "/1/junk", value: "x", dir: false, ttl: 3, refresh: false)))
        let w = try b.watch("/1/junk", stream: true)
        try b.restore(snap)
        #expect(b.watcherCount == 0)
        #expect(await drain(w).isEmpty)
        #expect(b.snapshot() == snap)
        #expect(b.hash() == a.hash())
        #expect(b.currentIndex == a.currentIndex)
        let now = start + 10 * TTL.nanosPerSecond
        #expect(b.get("/1", recursive: true, sorted: true, now: now) == a.get("/1", recursive: true, sorted: true, now: now))
        #expect(b.nextExpiration == a.nextExpiration)
        // history survives: a watch from index 1 replays the same first event
        let wa = try a.watch("/1/a", waitIndex: 1), wb = try b.watch("/1/a", waitIndex: 1)
        #expect(await drain(wa) == drain(wb))
        // and both keep evolving identically
        let later = StoreCommand(now: start + 100 * TTL.nanosPerSecond, .expire)
        #expect(a.apply(later) == b.apply(later))
        #expect(a.hash() == b.hash())
    }

    @Test func corruptSnapshotsAreRejectedAndStoreUnchanged() {
        let a = Store()
        a.apply(StoreCommand(now: TTL.minExpireTime, .set(key: "/1/a", value: "1", dir: false, ttl: nil, refresh: false)))
        let before = a.hash()
        let snap = a.snapshot()
        #expect(throws: StoreDecodingError.badMagic) { try a.restore([1, 2, 3, 4, 5]) }
        #expect(throws: StoreDecodingError.truncated) { try a.restore(Array(snap.dropLast(3))) }
        #expect(throws: (any Error).self) { try Store(namespaces: ["/x"]).restore(snap) }
        #expect(a.hash() == before)
    }

    @Test func historyIsBoundedInSnapshot() throws {
        let a = Store(historyCapacity: 5)
        for i in 0..<20 {
            a.apply(StoreCommand(now: TTL.minExpireTime, .set(key: "/1/k", value: "\(i)", dir: false, ttl: nil, refresh: false)))
        }
        let b = Store(historyCapacity: 5)
        try b.restore(a.snapshot())
        #expect(throws: StoreError(.eventIndexCleared, cause: "the requested history has been cleared [16/15]", index: 20)) {
            try b.watch("/1/k", waitIndex: 15)
        }
    }
}
