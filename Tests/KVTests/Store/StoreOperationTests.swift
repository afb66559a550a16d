import Testing
@testable import KV

/// Every write/read operation, its errors (code, cause, index, HTTP status) and index bookkeeping.
@Suite struct StoreOperationTests {
    func err(_ code: Int, _ message: String, _ cause: String?, _ index: UInt64) -> String {
        var s = "{\"errorCode\":\(code),\"message\":\"\(message)\""
        if let cause { s += ",\"cause\":\"\(cause)\"" }
        return s + ",\"index\":\(index)}\n"
    }

    @Test func readsAndFailedWritesDoNotMoveTheIndex() {
        let h = Harness()
        h.put("/a", "value=1")  // 4
        h.get("/a")
        h.get("/missing")
        h.put("/a", "prevValue=nope&value=2")
        h.put("/a", "prevExist=false&value=2")
        h.req("GET", "/a", "quorum=true")
        #expect(h.store.currentIndex == 4)
        #expect(h.put("/b", "value=1").index == 5)
    }

    @Test func createAndExistingKey() {
        let h = Harness()
        #expect(h.put("/k", "prevExist=false&value=v") == .init(status: 201, index: 4, body:
            #"{"action":"create","node":{"key":"/k","value":"v","modifiedIndex":4,"createdIndex":4}}"# + "\n"))
        #expect(h.put("/k", "prevExist=false&value=w") == .init(status: 412, index: 4,
                                                                 body: err(105, "Key already exists", "/k", 4)))
        h.put("/d", "dir=true")
        #expect(h.put("/d", "prevExist=false&dir=true").body == err(105, "Key already exists", "/d", 5))
    }

    @Test func updateRequiresExistingKey() {
        let h = Harness()
        #expect(h.put("/k", "prevExist=true&value=v") == .init(status: 404, index: 3,
                                                                body: err(100, "Key not found", "/k", 3)))
        h.put("/k", "value=a")
        #expect(h.put("/k", "prevExist=true&value=b") == .init(status: 200, index: 5, body:
            #"{"action":"update","node":{"key":"/k","value":"b","modifiedIndex":5,"createdIndex":4},"prevNode":{"key":"/k","value":"a","modifiedIndex":4,"createdIndex":4}}"# + "\n"))
    }

    @Test func updateOfDirReportsNewIndexButKeepsStoredIndex() {
        let h = Harness()
        h.put("/d", "dir=true")  // 4
        let r = h.put("/d", "dir=true&prevExist=true&ttl=100")
        #expect(r.status == 200)
        #expect(r.body.contains(#""action":"update","node":{"key":"/d","dir":true,"#))
        #expect(r.body.contains(#""modifiedIndex":5,"createdIndex":4},"prevNode":{"key":"/d","dir":true,"modifiedIndex":4,"createdIndex":4}"#))
        #expect(h.get("/d").body.contains(#""ttl":100,"modifiedIndex":4,"createdIndex":4"#))
        #expect(h.put("/d", "prevExist=true&value=x").body == err(102, "Not a file", "/d", 5))
    }

    @Test func setOnDirectoryIsNotAFile() {
        let h = Harness()
        h.put("/d", "dir=true")
        #expect(h.put("/d", "value=x") == .init(status: 403, index: 4, body: err(102, "Not a file", "/d", 4)))
        #expect(h.put("/d", "dir=true").body == err(102, "Not a file", "/d", 4))
    }

    @Test func keyUnderAFile() {
        let h = Harness()
        h.put("/dir/sub/leaf", "value=L")  // 4
        #expect(h.put("/dir/sub/leaf/x", "value=1") == .init(status: 400, index: 4,
                                                              body: err(104, "Not a directory", "/dir/sub/leaf", 4)))
        #expect(h.put("/dir/sub/leaf/x", "prevExist=false&value=1").body == err(104, "Not a directory", "/dir/sub/leaf", 4))
        #expect(h.post("/dir/sub/leaf", "value=1").body == err(104, "Not a directory", "/dir/sub/leaf", 4))
        #expect(h.get("/dir/sub/leaf/x").body == err(104, "Not a directory", "/dir/sub/leaf", 4))
    }

    @Test func notFoundCauseIsFirstMissingComponent() {
        let h = Harness()
        #expect(h.get("/nodir/child/grandchild").body == err(100, "Key not found", "/nodir", 3))
        #expect(h.get("/0").body == err(100, "Key not found", "/0", 3))
        #expect(h.delete("/nodir").status == 404)
    }

    @Test func rootIsReadOnly() {
        let h = Harness()
        #expect(h.put("/", "value=x") == .init(status: 400, index: 3, body: err(107, "Root is read only", "/", 3)))
        #expect(h.put("", "dir=true").body == err(107, "Root is read only", "/", 3))
        #expect(h.delete("/", "recursive=true").body == err(107, "Root is read only", "/", 3))
        #expect(h.put("/", "prevExist=true&value=x").body == err(107, "Root is read only", "/", 3))
        #expect(h.put("/", "prevValue=a&value=x").body == err(107, "Root is read only", "/", 3))
        #expect(h.delete("/", "prevValue=a").body == err(102, "Not a file", nil, 3))
    }

    @Test func compareAndSwapFailures() {
        let h = Harness()
        fill(h, 19)
        h.put("/foo", "value=one")  // 20
        #expect(h.put("/foo", "prevValue=two&value=x") == .init(status: 412, index: 20,
                                                                 body: err(101, "Compare failed", "[two != one]", 20)))
        #expect(h.put("/foo", "prevIndex=1&value=x").body == err(101, "Compare failed", "[1 != 20]", 20))
        #expect(h.put("/foo", "prevIndex=1&prevValue=two&value=x").body ==
            err(101, "Compare failed", "[two != one] [1 != 20]", 20))
        #expect(h.put("/foo", "prevIndex=1&prevValue=two&prevExist=true&value=x").body ==
            err(101, "Compare failed", "[two != one] [1 != 20]", 20))
        #expect(h.put("/nope", "prevValue=a&value=x").body == err(100, "Key not found", "/nope", 20))
        h.put("/d", "dir=true")  // 21
        #expect(h.put("/d", "prevIndex=21&value=x").body == err(102, "Not a file", "/d", 21))
        // prevIndex=0 means "no condition": a plain set
        #expect(h.put("/foo", "prevIndex=0&value=y").body.hasPrefix(#"{"action":"set""#))
        #expect(h.put("/foo", "prevIndex=22&prevValue=y&value=z").body.hasPrefix(#"{"action":"compareAndSwap""#))
    }

    func fill(_ h: Harness, _ index: UInt64) {
        while h.store.currentIndex < index {
            h.store.apply(StoreCommand(now: h.now, .set(key: "/0/pad", value: "", dir: false, ttl: nil, refresh: false)))
        }
    }

    @Test func compareAndDeleteFailures() {
        let h = Harness()
        h.put("/f", "value=a")  // 4
        #expect(h.delete("/f", "prevValue=b") == .init(status: 412, index: 4, body: err(101, "Compare failed", "[b != a]", 4)))
        #expect(h.delete("/f", "prevIndex=9").body == err(101, "Compare failed", "[9 != 4]", 4))
        h.put("/d", "dir=true")
        #expect(h.delete("/d", "prevValue=a").body == err(102, "Not a file", "/d", 5))
        #expect(h.delete("/x", "prevIndex=3").body == err(100, "Key not found", "/x", 5))
        #expect(h.delete("/f", "prevIndex=4").status == 200)
        #expect(h.get("/f").status == 404)
    }

    @Test func deleteRules() {
        let h = Harness()
        h.put("/f", "value=a")  // 4
        #expect(h.delete("/f", "dir=true") == .init(status: 200, index: 5, body:
            #"{"action":"delete","node":{"key":"/f","modifiedIndex":5,"createdIndex":4},"prevNode":{"key":"/f","value":"a","modifiedIndex":4,"createdIndex":4}}"# + "\n"))
        h.put("/d/x", "value=1")  // 6
        #expect(h.delete("/d") == .init(status: 403, index: 6, body: err(102, "Not a file", "/d", 6)))
        #expect(h.delete("/d", "dir=true") == .init(status: 403, index: 6, body: err(108, "Directory not empty", "/d", 6)))
        #expect(h.delete("/d", "recursive=true") == .init(status: 200, index: 7, body:
            #"{"action":"delete","node":{"key":"/d","dir":true,"modifiedIndex":7,"createdIndex":6},"prevNode":{"key":"/d","dir":true,"modifiedIndex":6,"createdIndex":6}}"# + "\n"))
        #expect(h.get("/d/x").body == err(100, "Key not found", "/d", 7))
        h.put("/e", "dir=true")  // 8
        #expect(h.delete("/e", "dir=true").status == 200)
    }

    @Test func hiddenKeysAreReadableButNotListed() {
        let h = Harness()
        h.put("/_hid", "value=h")
        h.put("/vis", "value=v")
        h.put("/d/_x", "value=1")
        #expect(h.get("/_hid").body.contains(#""value":"h""#))
        let root = h.get("", "recursive=true").body
        #expect(!root.contains("_hid"))
        #expect(!root.contains("/d/_x"))
        #expect(root == #"{"action":"get","node":{"dir":true,"nodes":[{"key":"/d","dir":true,"modifiedIndex":6,"createdIndex":6},{"key":"/vis","value":"v","modifiedIndex":5,"createdIndex":5}]}}"# + "\n")
    }

    @Test func oneLevelListingShowsChildDirsWithoutNodes() {
        let h = Harness()
        h.put("/a/b/c", "value=1")
        h.put("/a/z", "value=2")
        #expect(h.get("/a", "sorted=true").body ==
            #"{"action":"get","node":{"key":"/a","dir":true,"nodes":[{"key":"/a/b","dir":true,"modifiedIndex":4,"createdIndex":4},{"key":"/a/z","value":"2","modifiedIndex":5,"createdIndex":5}],"modifiedIndex":4,"createdIndex":4}}"# + "\n")
        h.put("/empty", "dir=true")
        #expect(h.get("/empty").body == #"{"action":"get","node":{"key":"/empty","dir":true,"modifiedIndex":6,"createdIndex":6}}"# + "\n")
    }

    @Test func pathsAreCleaned() {
        let h = Harness()
        #expect(h.put("/a/b/", "value=1").body.contains(#""key":"/a/b""#))
        #expect(h.get("a/./b").status == 200)
        #expect(h.get("/../a/b").status == 200)
        #expect(h.put("/sp ace/x/y", "value=1").body.contains(#""key":"/sp ace/x/y""#))
    }

    @Test func emptyValueAndQuorumGet() {
        let h = Harness()
        #expect(h.put("/e").body == #"{"action":"set","node":{"key":"/e","value":"","modifiedIndex":4,"createdIndex":4}}"# + "\n")
        #expect(h.req("GET", "/e", "quorum=true").body == #"{"action":"get","node":{"key":"/e","value":"","modifiedIndex":4,"createdIndex":4}}"# + "\n")
        #expect(h.req("HEAD", "/e").status == 200)
    }

    @Test func setReplacingFileKeepsNothingOfOldNode() {
        let h = Harness()
        h.put("/k", "value=a&ttl=10")
        let r = h.put("/k", "value=b")
        #expect(r.body == #"{"action":"set","node":{"key":"/k","value":"b","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/k","value":"a","expiration":""# + TTL.rfc3339Nano(h.now + 10 * TTL.nanosPerSecond) + #"","ttl":10,"modifiedIndex":4,"createdIndex":4}}"# + "\n")
        #expect(h.store.nextExpiration == nil)
    }
}

@Suite struct StoreStatsTests {
    @Test func countsOperations() throws {
        let h = Harness(bootstrap: false)
        h.put("/a", "value=1")
        h.put("/a", "prevExist=false&value=1")
        h.post("/q", "value=1")
        h.put("/a", "prevExist=true&value=2")
        h.put("/a", "prevValue=2&value=3")
        h.put("/a", "prevValue=x&value=3")
        h.get("/a")
        h.get("/nope")
        h.req("GET", "/a", "quorum=true")
        h.put("/t", "value=1&ttl=1")
        h.advance(seconds: 2)
        h.expire()
        h.delete("/a", "prevValue=zz")
        h.delete("/a")
        h.delete("/a")
        let w = try h.watch("/x")
        let st = h.store.stats
        #expect(st.json == #"{"getsSuccess":2,"getsFail":1,"setsSuccess":2,"setsFail":0,"deleteSuccess":1,"deleteFail":1,"updateSuccess":1,"updateFail":0,"createSuccess":1,"createFail":1,"compareAndSwapSuccess":1,"compareAndSwapFail":1,"compareAndDeleteSuccess":0,"compareAndDeleteFail":1,"expireCount":1,"watchers":1}"#)
        w.cancel()
    }

    @Test func createUnderAFileAlsoCountsAsFailedSet() {
        let h = Harness(bootstrap: false)
        h.put("/f", "value=1")
        h.post("/f", "value=1")
        let st = h.store.stats
        #expect(st.createFail == 1 && st.setsFail == 1 && st.setsSuccess == 1)
    }
}
