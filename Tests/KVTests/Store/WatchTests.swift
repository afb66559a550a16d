import Testing
@testable import KV

/// Watch semantics: one-shot and stream, history replay, window, recursion, hidden keys, deletes.
@Suite struct WatchTests {
    @Test func oneShotWatcherGetsNextEventOnly() async throws {
        let h = Harness()
        let w = try h.watch("/k")
        #expect(w.startIndex == 3)
        #expect(h.store.watcherCount == 1)
        h.put("/other", "value=1")
        #expect(h.store.watcherCount == 1)
        h.put("/k", "value=1")  // 5
        #expect(h.store.watcherCount == 0)
        h.put("/k", "value=2")
        let evs = await drain(w)
        #expect(evs.map(\.node.modifiedIndex) == [5])
        #expect(evs[0].etcdIndex == 5)
    }

    @Test func waitIndexInHistoryAnswersAtOnce() async throws {
        let h = Harness()
        h.put("/k", "value=1")  // 4
        h.put("/x", "value=1")  // 5
        h.put("/k", "value=2")  // 6
        let w = try h.watch("/k", waitIndex: 5)
        #expect(h.store.watcherCount == 0)
        let evs = await drain(w)
        #expect(evs.map(\.node.modifiedIndex) == [6])
        #expect(evs[0].etcdIndex == 6)
        #expect(V2JSON.encode(evs[0]) ==
            #"{"action":"set","node":{"key":"/k","value":"2","modifiedIndex":6,"createdIndex":6},"prevNode":{"key":"/k","value":"1","modifiedIndex":4,"createdIndex":4}}"# + "\n")
        // waitIndex = exact event index is inclusive
        #expect(await drain(try h.watch("/k", waitIndex: 4)).map(\.node.modifiedIndex) == [4])
    }

    @Test func futureWaitIndexWaits() async throws {
        let h = Harness()
        let w = try h.watch("/k", waitIndex: 6)
        h.put("/k", "value=1")  // 4: too early
        h.put("/k", "value=2")  // 5: too early
        #expect(h.store.watcherCount == 1)
        h.put("/k", "value=3")  // 6
        #expect(await drain(w).map(\.node.modifiedIndex) == [6])
    }

    @Test func nonRecursiveDirWatchIgnoresChildren() async throws {
        let h = Harness()
        h.put("/wdir", "dir=true")
        let w = try h.watch("/wdir")
        h.put("/wdir/a", "value=1")
        #expect(h.store.watcherCount == 1)
        let r = try h.watch("/wdir", recursive: true)
        h.put("/wdir/b", "value=1")
        #expect(await drain(r).map(\.node.key) == ["/1/wdir/b"])
        #expect(await drain(w).isEmpty)
    }

    @Test func childWatchWokenByRecursiveDeleteOfParent() async throws {
        let h = Harness()
        h.put("/wdir/k1", "value=a")  // 4
        h.put("/wdir/sub/k2", "value=b")  // 5
        let w1 = try h.watch("/wdir/k1")
        let w2 = try h.watch("/wdir/sub/k2")
        let wd = try h.watch("/wdir", stream: true)
        let unrelated = try h.watch("/wdirx")
        h.delete("/wdir", "recursive=true")  // 6
        let expected = #"{"action":"delete","node":{"key":"/wdir","dir":true,"modifiedIndex":6,"createdIndex":4},"prevNode":{"key":"/wdir","dir":true,"modifiedIndex":4,"createdIndex":4}}"# + "\n"
        #expect(await drainJSON(w1) == [expected])
        #expect(await drainJSON(w2) == [expected])
        #expect(await drainJSON(wd) == [expected])  // once, even though /wdir is both removed and the key
        #expect(await drain(unrelated).isEmpty)
        // from the history too: a watch on a removed child replays its parent's delete
        #expect(await drain(try h.watch("/wdir/sub/k2", waitIndex: 6)).map(\.action) == [.delete])
    }

    @Test func hiddenKeysDoNotWakeRecursiveWatchersAbove() async throws {
        let h = Harness()
        let root = try h.watch("/", recursive: true, stream: true)
        let hid = try h.watch("/_hid")
        let under = try h.watch("/_h", recursive: true)
        h.put("/_hid", "value=1")  // 4
        h.put("/d/_x/y", "value=1")  // 5
        h.put("/_h/z", "value=1")  // 6
        h.put("/vis", "value=1")  // 7
        #expect(await drain(root).map(\.node.modifiedIndex) == [7])
        #expect(await drain(hid).map(\.node.modifiedIndex) == [4])
        #expect(await drain(under).map(\.node.modifiedIndex) == [6])
    }

    @Test func streamWatcherStaysAndStartsFromHistory() async throws {
        let h = Harness()
        h.put("/s/a", "value=1")  // 4
        h.put("/t", "value=1")  // 5
        h.put("/s/b", "value=1")  // 6
        let w = try h.watch("/s", recursive: true, stream: true, waitIndex: 4)
        #expect(h.store.watcherCount == 1)
        h.put("/s/c", "value=1")  // 7
        h.put("/s/a", "value=2")  // 8
        let evs = await drain(w)
        #expect(evs.map(\.node.modifiedIndex) == [4, 6, 7, 8])
        #expect(evs.map(\.etcdIndex) == [6, 6, 7, 8])
        #expect(h.store.watcherCount == 0)
    }

    @Test func cancelUnregisters() async throws {
        let h = Harness()
        let w = try h.watch("/k", recursive: true, stream: true)
        #expect(h.store.watcherCount == 1)
        w.cancel()
        w.cancel()
        #expect(h.store.watcherCount == 0)
        h.put("/k", "value=1")
        #expect(await drain(w).isEmpty)
    }

    @Test func consumerTaskCancellationUnregisters() async throws {
        let h = Harness()
        let w = try h.watch("/k", stream: true)
        let task = Task {
            for await _ in w.events {}
        }
        task.cancel()
        await task.value
        #expect(h.store.watcherCount == 0)
    }

    @Test func slowStreamWatcherIsClosed() async throws {
        let store = Store(historyCapacity: 1000, watcherBuffer: 3)
        let w = try store.watch("/1/k", stream: true)
        for i in 0..<5 {
            store.apply(StoreCommand(now: TTL.minExpireTime, .set(key: "/1/k", value: "\(i)", dir: false, ttl: nil,
                                                                  refresh: false)))
        }
        #expect(store.watcherCount == 0)
        #expect(await drain(w).map(\.node.value) == ["0", "1", "2"])
    }

    @Test func windowEdgeOnSmallHistory() throws {
        let h = Harness(historyCapacity: 10)
        for _ in 0..<20 { h.put("/k", "value=x") }  // indexes 4...23, history keeps 14...23
        #expect(throws: StoreError(.eventIndexCleared, cause: "the requested history has been cleared [14/13]", index: 23)) {
            try h.watch("/k", waitIndex: 13)
        }
        _ = try h.watch("/k", waitIndex: 14)
        _ = try h.watch("/k", waitIndex: 100)
    }

    @Test func compareAndDeleteAndCASWakeWatchers() async throws {
        let h = Harness()
        h.put("/k", "value=a")  // 4
        let w = try h.watch("/k", stream: true)
        h.put("/k", "prevValue=a&value=b")  // 5
        h.put("/k", "prevValue=zzz&value=c")  // fails: no event
        h.delete("/k", "prevValue=b")  // 6
        #expect(await drain(w).map(\.action) == [.compareAndSwap, .compareAndDelete])
    }
}
