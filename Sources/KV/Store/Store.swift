import Synchronization

/// The etcd v2 key-value store: the state machine that Raft replicates.
///
/// Wiring (see also `KeysRequestParser`, `KeysResponse`, `V2JSON`):
/// 1. HTTP: `KeysRequestParser.parse(method:key:query:body:)` gives a `KeysRequest` or a `StoreError`
///    (answer it with `KeysResponse(.failure(e))`).
///    - `.get`: `store.get(key, recursive:, sorted:, now: localClock)` → `KeysResponse(result)`.
///    - `.watch`: `store.watch(...)` → send headers with `X-Etcd-Index: watcher.startIndex`, then
///      `V2JSON.encode(event)` per event (one for `wait`, many for `stream`); cancel on disconnect.
///    - `.propose(op)`: wrap as `StoreCommand(now: leaderClock, op)`, propose `encoded()` bytes.
/// 2. Raft apply loop (every member, log order): `store.apply(StoreCommand(decoding: bytes))`; the
///    member that proposed answers with `KeysResponse(outcome.result!)`.
/// 3. Leader only: when `store.nextExpiration <= now`, propose `StoreCommand(now: now, .expire)`.
/// 4. Snapshots: `snapshot()` / `restore(_:)`; compare `hash()` across members at the same index.
///
/// Threading: all state (tree, index, history, watcher registry) sits behind one
/// `Synchronization.Mutex`. The apply loop calls `apply(_:)` in log order; HTTP tasks call `get`,
/// `watch` and `Watcher.cancel` concurrently. Watcher events are enqueued while the lock is held (so
/// every watcher sees events in index order) and consumed by the HTTP tasks from `Watcher.events`.
///
/// Time: the store never reads a clock. Writes use the `now` carried by their `StoreCommand` (the
/// proposing leader's clock), and expiry only happens through a replicated `.expire` command; local
/// reads pass the reader's clock only to compute the `ttl` field of the answer.
public final class Store: Sendable {
    private let state: Mutex<StoreCore>
    /// Buffer of a stream watcher before it is considered too slow and closed (etcd uses 100).
    public let watcherBuffer: Int

    /// - Parameters:
    ///   - namespaces: read-only top-level directories; etcd's layout is `/0` (membership) and `/1`
    ///     (user keys, see `KeyPath.userKey`). Pass `[]` for a bare store.
    ///   - historyCapacity: events kept for `waitIndex` (etcd: 1000).
    ///   - watcherBuffer: events a stream watcher may fall behind before it is closed.
    public init(namespaces: [String] = [KeyPath.clusterPrefix, KeyPath.userPrefix], historyCapacity: Int = 1000,
                watcherBuffer: Int = 100) {
        state = Mutex(StoreCore(namespaces: namespaces, historyCapacity: historyCapacity))
        self.watcherBuffer = max(1, watcherBuffer)
    }

    /// The etcd index (`X-Etcd-Index`): the index of the last successful write.
    public var currentIndex: UInt64 { state.withLock { $0.currentIndex } }

    /// Number of registered (waiting) watchers, for `/v2/stats/store`.
    public var watcherCount: Int { state.withLock { $0.hub.count } }

    /// Operation counters for `/v2/stats/store`, with the current watcher count.
    public var stats: StoreStats {
        state.withLock { s in
            var st = s.stats
            st.watchers = s.hub.count
            return st
        }
    }

    /// The earliest pending TTL expiry (Unix nanoseconds), or `nil` if no node has a TTL. The leader
    /// proposes `.expire` once its clock passes this.
    public var nextExpiration: Int64? { state.withLock { $0.nextExpiration() } }

    /// Applies one committed command. Deterministic: same commands in the same order give the same
    /// state, index and outcome on every member.
    @discardableResult
    public func apply(_ command: StoreCommand) -> StoreOutcome {
        let outcome = state.withLock { $0.apply(command) }
        drainFinished()
        return outcome
    }

    /// A local (possibly stale on a follower) GET. `now` only feeds the `ttl` field of the answer.
    public func get(_ key: String, recursive: Bool = false, sorted: Bool = false, now: Int64)
        -> Result<StoreEvent, StoreError>
    {
        state.withLock { $0.countedGet(key, recursive: recursive, sorted: sorted, now: now) }
    }

    /// Registers a watch (GET wait=true).
    ///
    /// `waitIndex` 0 means "from the next write". A `waitIndex` still in the history is answered from
    /// it at once (the event's `etcdIndex` is then the current index, as in etcd); one older than the
    /// history window throws 401 with cause `the requested history has been cleared [oldest/requested]`.
    /// A stream watcher starting in the past receives every matching event still in the history, then
    /// live events (etcd would send only the first one; this is a deliberate improvement).
    /// `buffer`: events a stream watcher may fall behind before it is closed (default
    /// ``watcherBuffer``); an in-process consumer that must not lose history under bursts asks for more.
    public func watch(_ key: String, recursive: Bool = false, stream: Bool = false, waitIndex: UInt64 = 0,
                      buffer: Int? = nil)
        throws(StoreError) -> Watcher
    {
        let path = KeyPath.canonical(key)
        let result: Result<Watcher, StoreError> = state.withLock { s in
            let current = s.currentIndex
            let since = waitIndex == 0 ? current + 1 : waitIndex
            var replay: [StoreEvent] = []
            do throws(StoreError) {
                try s.history.checkWindow(since, storeIndex: current)
            } catch {
                return .failure(error)
            }
            if stream {
                for e in s.history.events(from: since) where EventHistory.matches(e, key: path, recursive: recursive) {
                    var e = e
                    e.etcdIndex = current
                    replay.append(e)
                }
            } else if var e = s.history.first(from: since, where: { EventHistory.matches($0, key: path, recursive: recursive) }) {
                // A one-shot watch needs only the first match: no copy of the history.
                e.etcdIndex = current
                replay.append(e)
            }
            let id = s.hub.nextID()
            let (events, cont) = AsyncStream.makeStream(of: StoreEvent.self,
                                                        bufferingPolicy: .bufferingOldest(max(1, buffer ?? watcherBuffer) + replay.count))
            for e in replay { cont.yield(e) }
            let watcher = Watcher(events: events, startIndex: current, isStream: stream, id: id) { [weak self] in
                self?.removeWatcher(id: id, at: path)
            }
            if !stream && !replay.isEmpty {
                s.finished.append(cont)
            } else {
                s.hub.add(.init(id: id, recursive: recursive, stream: stream,
                                sinceIndex: stream && !replay.isEmpty ? current + 1 : since, continuation: cont),
                          at: path)
                cont.onTermination = { [weak self] _ in self?.removeWatcher(id: id, at: path) }
            }
            return .success(watcher)
        }
        drainFinished()
        return try result.get()
    }

    private func removeWatcher(id: UInt64, at path: String) {
        let c = state.withLock { $0.hub.remove(id: id, at: path) }
        c?.finish()
    }

    // MARK: - Snapshot

    /// The whole store (tree, index, event history) as deterministic bytes. Watchers are not part of
    /// the state.
    public func snapshot() -> [UInt8] { state.withLock { StoreSnapshot.encode($0) } }

    /// Replaces the store's state with a snapshot. Every registered watcher is closed (etcd's
    /// "watcher is cleared due to etcd recovery"); clients re-watch.
    public func restore(_ bytes: [UInt8]) throws(StoreDecodingError) {
        let result: Result<Void, StoreDecodingError> = state.withLock { s in
            do throws(StoreDecodingError) {
                try StoreSnapshot.decode(bytes, into: &s)
                s.finished.append(contentsOf: s.hub.removeAll())
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        drainFinished()
        try result.get()
    }

    /// FNV-1a of `snapshot()`: equal on members that applied the same log prefix.
    public func hash() -> UInt64 { fnv1a64(snapshot()) }

    /// The current index and `hash()` taken under one lock, so the two belong together: members
    /// that report the same index must report the same hash (the fault suite's divergence check).
    public func indexedHash() -> (index: UInt64, hash: UInt64) {
        let bytes = state.withLock { ($0.currentIndex, StoreSnapshot.encode($0)) }
        return (bytes.0, fnv1a64(bytes.1))
    }

    // MARK: - Locking

    /// Finishes completed watcher streams outside the lock (finishing runs `onTermination`, which
    /// takes the lock again).
    private func drainFinished() {
        let done = state.withLock { s -> [EventContinuation] in
            let d = s.finished
            s.finished = []
            return d
        }
        for c in done { c.finish() }
    }
}
