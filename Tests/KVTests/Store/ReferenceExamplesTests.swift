import Testing
@testable import KV

/// Byte-exact replays of the request/response pairs in the v2 API reference (§1.4–1.9).
@Suite struct ReferenceExamplesTests {
    /// Consumes indexes with writes under `/0`, invisible to user keys, until the store is at `index`.
    func fill(_ h: Harness, to index: UInt64) {
        while h.store.currentIndex < index {
            h.store.apply(StoreCommand(now: h.now, .set(key: "/0/pad", value: "x", dir: false, ttl: nil,
                                                        refresh: false)))
        }
    }

    @Test func freshServerStartsAtIndex3AndEmptyRootHasNoKey() {
        let h = Harness()
        #expect(h.store.currentIndex == 3)
        #expect(h.get("") == .init(status: 200, index: 3, body: #"{"action":"get","node":{"dir":true}}"# + "\n"))
        #expect(h.get("/") == .init(status: 200, index: 3, body: #"{"action":"get","node":{"dir":true}}"# + "\n"))
    }

    @Test func setThenReplace() {
        let h = Harness()
        #expect(h.put("/message", "value=Hello+world") == .init(status: 201, index: 4, body:
            #"{"action":"set","node":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}"# + "\n"))
        #expect(h.put("/message", "value=Hello%20etcd") == .init(status: 200, index: 5, body:
            #"{"action":"set","node":{"key":"/message","value":"Hello etcd","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/message","value":"Hello world","modifiedIndex":4,"createdIndex":4}}"# + "\n"))
    }

    @Test func keyNotFoundError() {
        let h = Harness()
        fill(h, to: 9)
        #expect(h.get("/message") == .init(status: 404, index: 9, body:
            #"{"errorCode":100,"message":"Key not found","cause":"/message","index":9}"# + "\n"))
    }

    @Test func setWithTTL() {
        let h = Harness()
        fill(h, to: 9)
        // now = 22:41:35.321383831Z, so expiry is 22:41:40.321383831Z
        #expect(h.put("/foo", "value=bar&ttl=5") == .init(status: 201, index: 10, body:
            #"{"action":"set","node":{"key":"/foo","value":"bar","expiration":"2026-11-23T22:41:40.321383831Z","ttl":5,"modifiedIndex":10,"createdIndex":10}}"# + "\n"))
    }

    @Test func compareAndSwapThenCompareAndDelete() {
        let h = Harness()
        fill(h, to: 16)
        h.put("/foo", "value=zero")  // 17
        fill(h, to: 18)
        h.put("/foo", "value=one&prevExist=true")  // 19, update keeps createdIndex
        #expect(h.put("/foo", "prevValue=one&value=two") == .init(status: 200, index: 20, body:
            #"{"action":"compareAndSwap","node":{"key":"/foo","value":"two","modifiedIndex":20,"createdIndex":17},"prevNode":{"key":"/foo","value":"one","modifiedIndex":19,"createdIndex":17}}"# + "\n"))
        fill(h, to: 21)
        h.put("/foo", "value=three&prevExist=true")  // 22
        #expect(h.delete("/foo", "prevValue=three") == .init(status: 200, index: 23, body:
            #"{"action":"compareAndDelete","node":{"key":"/foo","modifiedIndex":23,"createdIndex":17},"prevNode":{"key":"/foo","value":"three","modifiedIndex":22,"createdIndex":17}}"# + "\n"))
    }

    @Test func recursiveGetOfDir() {
        let h = Harness()
        fill(h, to: 23)
        h.put("/dir", "dir=true")  // 24
        fill(h, to: 26)
        h.put("/dir/sub/leaf", "value=L")  // 27, creates /dir/sub at 27
        #expect(h.get("/dir", "recursive=true") == .init(status: 200, index: 27, body:
            #"{"action":"get","node":{"key":"/dir","dir":true,"nodes":[{"key":"/dir/sub","dir":true,"nodes":[{"key":"/dir/sub/leaf","value":"L","modifiedIndex":27,"createdIndex":27}],"modifiedIndex":27,"createdIndex":27}],"modifiedIndex":24,"createdIndex":24}}"# + "\n"))
    }

    @Test func inOrderQueue() {
        let h = Harness()
        fill(h, to: 33)
        #expect(h.post("/queue", "value=Job1") == .init(status: 201, index: 34, body:
            #"{"action":"create","node":{"key":"/queue/00000000000000000034","value":"Job1","modifiedIndex":34,"createdIndex":34}}"# + "\n"))
        fill(h, to: 35)
        h.post("/queue", "value=Job2")  // 36
        h.now = 1_795_473_698_765_918_150  // 22:41:38.76591815Z
        h.req("POST", "/queue", "", body: "value=Job3&ttl=100")  // 37
        h.post("/queue", "dir=true")  // 38
        #expect(h.get("/queue", "recursive=true&sorted=true") == .init(status: 200, index: 38, body:
            #"{"action":"get","node":{"key":"/queue","dir":true,"nodes":[{"key":"/queue/00000000000000000034","value":"Job1","modifiedIndex":34,"createdIndex":34},{"key":"/queue/00000000000000000036","value":"Job2","modifiedIndex":36,"createdIndex":36},{"key":"/queue/00000000000000000037","value":"Job3","expiration":"2026-11-23T22:43:18.76591815Z","ttl":100,"modifiedIndex":37,"createdIndex":37},{"key":"/queue/00000000000000000038","dir":true,"modifiedIndex":38,"createdIndex":38}],"modifiedIndex":34,"createdIndex":34}}"# + "\n"))
    }

    @Test func postOnRootAndNoValueOnSuccess() {
        let h = Harness()
        fill(h, to: 32)
        #expect(h.post("/", "value=r").body ==
            #"{"action":"create","node":{"key":"/00000000000000000033","value":"r","modifiedIndex":33,"createdIndex":33}}"# + "\n")
        #expect(h.put("/message", "noValueOnSuccess=true&value=quiet").body == #"{"action":"set"}"# + "\n")
    }

    @Test func expireEvent() async throws {
        let h = Harness()
        fill(h, to: 14)
        h.put("/shortlived", "value=v&ttl=1")  // 15
        let w = try h.watch("/shortlived")
        h.advance(seconds: 1)
        let evs = h.expire()
        #expect(evs.count == 1)
        let exp = TTL.rfc3339Nano(h.now)
        #expect(await drainJSON(w) == [
            #"{"action":"expire","node":{"key":"/shortlived","modifiedIndex":16,"createdIndex":15},"prevNode":{"key":"/shortlived","value":"v","expiration":""# + exp + #"","modifiedIndex":15,"createdIndex":15}}"# + "\n",
        ])
        #expect(h.get("/shortlived").status == 404)
    }

    @Test func streamWatch() async throws {
        let h = Harness()
        fill(h, to: 42)
        let w = try h.watch("/sdir", recursive: true, stream: true)
        #expect(w.startIndex == 42)
        h.put("/sdir/a", "value=1")
        h.put("/sdir/b", "value=2")
        h.delete("/sdir/a")
        #expect(await drainJSON(w) == [
            #"{"action":"set","node":{"key":"/sdir/a","value":"1","modifiedIndex":43,"createdIndex":43}}"# + "\n",
            #"{"action":"set","node":{"key":"/sdir/b","value":"2","modifiedIndex":44,"createdIndex":44}}"# + "\n",
            #"{"action":"delete","node":{"key":"/sdir/a","modifiedIndex":45,"createdIndex":43},"prevNode":{"key":"/sdir/a","value":"1","modifiedIndex":43,"createdIndex":43}}"# + "\n",
        ])
    }

    @Test func historyWindow401() throws {
        let h = Harness()
        fill(h, to: 52)
        for i in 0..<1100 { h.put("/w", "value=\(i)") }
        #expect(h.store.currentIndex == 1152)
        _ = try h.watch("/w", waitIndex: 153)
        #expect(throws: StoreError(.eventIndexCleared, cause: "the requested history has been cleared [153/152]",
                                   index: 1152)) {
            try h.watch("/w", waitIndex: 152)
        }
        let e = StoreError(.eventIndexCleared, cause: "the requested history has been cleared [153/152]", index: 1152)
        #expect(e.httpStatus == 400)
        #expect(V2JSON.encode(e) ==
            #"{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [153/152]","index":1152}"# + "\n")
    }
}
