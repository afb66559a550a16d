import Testing
@testable import KV

/// TTL, refresh and replicated expiry, all with a hand-driven clock.
@Suite struct TTLTests {
    @Test func rfc3339NanoFormatting() {
        #expect(TTL.rfc3339Nano(1_795_473_700_321_383_831) == "2026-11-23T22:41:40.321383831Z")
        #expect(TTL.rfc3339Nano(1_795_473_798_765_918_150) == "2026-11-23T22:43:18.76591815Z")
        #expect(TTL.rfc3339Nano(1_795_473_798_000_000_000) == "2026-11-23T22:43:18Z")
        #expect(TTL.rfc3339Nano(0) == "1970-01-01T00:00:00Z")
        #expect(TTL.rfc3339Nano(951_782_400_500_000_000) == "2000-02-29T00:00:00.5Z")
    }

    @Test func ttlRoundsUpAndGoesToZeroAndBelow() {
        let e: Int64 = 10 * TTL.nanosPerSecond + TTL.minExpireTime
        #expect(TTL.expirationAndTTL(e, now: TTL.minExpireTime).1 == 10)
        #expect(TTL.expirationAndTTL(e, now: TTL.minExpireTime + 1).1 == 10)
        #expect(TTL.expirationAndTTL(e, now: TTL.minExpireTime + TTL.nanosPerSecond).1 == 9)
        #expect(TTL.expirationAndTTL(e, now: e).1 == 0)
        #expect(TTL.expirationAndTTL(e, now: e + TTL.nanosPerSecond / 2).1 == 0)
        #expect(TTL.expirationAndTTL(e, now: e + 3 * TTL.nanosPerSecond).1 == -3)
        #expect(TTL.expirationAndTTL(nil, now: 0) == (nil, 0))
    }

    @Test func expiryBefore2000OrOverflowingIsPermanent() {
        #expect(TTL.expireTime(now: 0, ttl: 5) == nil)
        #expect(TTL.expireTime(now: TTL.minExpireTime, ttl: UInt64.max) == nil)
        #expect(TTL.expireTime(now: TTL.minExpireTime, ttl: nil) == nil)
        #expect(TTL.expireTime(now: TTL.minExpireTime, ttl: 1) == TTL.minExpireTime + TTL.nanosPerSecond)
    }

    @Test func ttlShownWithSuppliedClock() {
        let h = Harness()
        h.put("/k", "value=v&ttl=10")
        h.advance(seconds: 3)
        #expect(h.get("/k").body.contains(#""ttl":7,"#))
        // Nothing expires by itself: only the replicated expire command removes keys.
        h.advance(seconds: 100)
        #expect(h.get("/k").status == 200)
        #expect(h.get("/k").body.contains(#""ttl":-93,"#))
        #expect(h.expire().count == 1)
        #expect(h.get("/k").status == 404)
        #expect(h.store.currentIndex == 5)
    }

    @Test func expireIsBoundaryInclusiveAndOrdered() {
        let h = Harness()
        h.put("/b", "value=1&ttl=5")  // 4
        h.put("/a", "value=1&ttl=5")  // 5
        h.put("/c", "value=1&ttl=3")  // 6
        h.put("/p", "value=1")  // 7
        #expect(h.store.nextExpiration == h.now + 3 * TTL.nanosPerSecond)
        h.advance(seconds: 2)
        #expect(h.expire().isEmpty)
        h.advance(seconds: 3)
        let evs = h.expire()
        #expect(evs.map(\.node.key) == ["/1/c", "/1/a", "/1/b"])
        #expect(evs.map(\.node.modifiedIndex) == [8, 9, 10])
        #expect(evs.map(\.etcdIndex) == [8, 9, 10])
        #expect(evs.allSatisfy { $0.action == .expire && $0.node.value == nil })
        #expect(h.store.nextExpiration == nil)
        #expect(h.get("/p").status == 200)
    }

    @Test func dirWithTTLExpiresWithSubtree() async throws {
        let h = Harness()
        h.put("/tdir", "dir=true&ttl=5")  // 4
        h.put("/tdir/k", "value=1&ttl=100")  // 5
        h.put("/tdir/sub/x", "value=2")  // 6
        let wChild = try h.watch("/tdir/sub/x")
        let wRec = try h.watch("/", recursive: true)
        h.advance(seconds: 5)
        let evs = h.expire()
        #expect(evs.count == 1)
        #expect(V2JSON.encode(evs[0]).hasPrefix(#"{"action":"expire","node":{"key":"/tdir","dir":true,"modifiedIndex":7,"createdIndex":4},"prevNode":{"key":"/tdir","dir":true,"expiration":"#))
        #expect(h.store.nextExpiration == nil)
        #expect(h.get("/tdir/k").status == 404)
        #expect(await drain(wChild).map(\.node.key) == ["/1/tdir"])
        #expect(await drain(wRec).map(\.action) == [.expire])
    }

    @Test func updateWithoutTTLRemovesIt() {
        let h = Harness()
        h.put("/k", "value=v&ttl=10")
        #expect(h.put("/k", "value=v&prevExist=true&ttl=").body ==
            #"{"action":"update","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":4},"prevNode":{"key":"/k","value":"v","expiration":""# + TTL.rfc3339Nano(h.now + 10 * TTL.nanosPerSecond) + #"","ttl":10,"modifiedIndex":4,"createdIndex":4}}"# + "\n")
        #expect(h.store.nextExpiration == nil)
        h.put("/d", "dir=true&ttl=10")
        h.put("/d", "dir=true&prevExist=true&ttl=")
        #expect(!h.get("/d").body.contains("ttl"))
        #expect(h.store.nextExpiration == nil)
    }

    @Test func refreshWithPrevExistKeepsValueAndDoesNotWakeWatchers() async throws {
        let h = Harness()
        h.put("/k", "value=v&ttl=10")  // 4
        let w = try h.watch("/k")
        let wr = try h.watch("/", recursive: true, stream: true)
        h.advance(seconds: 5)
        let r = h.put("/k", "refresh=true&ttl=20&prevExist=true")
        #expect(r.body.hasPrefix(#"{"action":"update","node":{"key":"/k","value":"v","expiration":""# + TTL.rfc3339Nano(h.now + 20 * TTL.nanosPerSecond) + #"","ttl":20,"modifiedIndex":5,"createdIndex":4}"#))
        #expect(h.store.currentIndex == 5)
        #expect(h.store.watcherCount == 2)
        h.put("/k", "value=w")  // 6 wakes both
        #expect(await drain(w).map(\.node.modifiedIndex) == [6])
        #expect(await drain(wr).map(\.node.modifiedIndex) == [6])
        // a watch from the refresh's index skips it in the history too
        let again = try h.watch("/k", waitIndex: 5)
        #expect(await drain(again).map(\.node.modifiedIndex) == [6])
    }

    @Test func refreshWithoutPrevExistIsSetAndResetsCreatedIndex() {
        let h = Harness()
        h.put("/k", "value=v&ttl=10")  // 4
        let r = h.put("/k", "refresh=true&ttl=30")
        #expect(r.status == 200)
        #expect(r.body.hasPrefix(#"{"action":"set","node":{"key":"/k","value":"v","expiration":""#))
        #expect(r.body.contains(#""ttl":30,"modifiedIndex":5,"createdIndex":5},"prevNode""#))
        #expect(h.put("/missing", "refresh=true&ttl=30").body ==
            #"{"errorCode":100,"message":"Key not found","cause":"/missing","index":5}"# + "\n")
        #expect(h.put("/missing", "refresh=true&ttl=30&prevExist=true").status == 404)
    }

    @Test func refreshWithCompareAndSwapKeepsValue() {
        let h = Harness()
        h.put("/k", "value=v&ttl=10")
        let r = h.put("/k", "refresh=true&ttl=30&prevValue=v")
        #expect(r.body.hasPrefix(#"{"action":"compareAndSwap","node":{"key":"/k","value":"v","#))
    }

    @Test func postWithTTLAndCreateWithTTL() {
        let h = Harness()
        #expect(h.post("/q", "value=j&ttl=10").body.contains(#""ttl":10,"#))
        #expect(h.put("/m", "prevExist=false&dir=true&ttl=20").body.contains(#""dir":true,"expiration""#))
        h.advance(seconds: 20)
        #expect(h.expire().count == 2)
        #expect(h.get("/q").body.contains(#""key":"/q","dir":true"#))
    }
}

@Suite struct ExpiryQueueTests {
    @Test func heapPopsInTimeThenPathOrder() {
        var q = ExpiryQueue()
        let entries: [(Int64, String)] = [(5, "/b"), (3, "/z"), (5, "/a"), (1, "/m"), (3, "/c"), (9, "/a")]
        for (t, p) in entries { q.push(t, p) }
        var out: [String] = []
        while let e = q.pop() { out.append("\(e.time)\(e.path)") }
        #expect(out == ["1/m", "3/c", "3/z", "5/a", "5/b", "9/a"])
    }

    @Test func manyRefreshesStayBoundedAndExpireCorrectly() {
        let h = Harness()
        for i in 0..<20 { h.put("/k\(i)", "value=v&ttl=\(10 + i)") }
        // refresh every key many times: stale heap entries pile up, then get compacted
        for round in 0..<30 {
            for i in 0..<20 { h.put("/k\(i)", "refresh=true&prevExist=true&ttl=\(10 + i + round)") }
        }
        let store = h.store
        #expect(store.nextExpiration == h.now + 39 * TTL.nanosPerSecond)
        h.advance(seconds: 45)
        let evs = h.expire()
        // ttl 39...45 expired (k0...k6 had 10+i+29 = 39...45), in time order
        #expect(evs.map(\.node.key) == (0...6).map { "/1/k\($0)" })
        #expect(store.nextExpiration == h.now + 1 * TTL.nanosPerSecond)
        h.advance(seconds: 100)
        #expect(h.expire().count == 13)
        #expect(store.nextExpiration == nil)
    }
}
