/// A registered watch, handed to the HTTP layer.
///
/// Events arrive on `events` (an `AsyncStream`, so an async HTTP task can `for await` them). A
/// one-shot watcher (`wait=true`) yields exactly one event and then finishes; a stream watcher
/// (`stream=true`) yields until cancelled. The stream also finishes when the consumer falls more than
/// its buffer behind (etcd closes slow watchers the same way) or when the store is restored from a
/// snapshot (etcd's "watcher is cleared due to etcd recovery"); the client then re-watches.
///
/// Cancel it (or cancel the consuming task, or drop it) when the HTTP client goes away so the store
/// forgets it.
public final class Watcher: Sendable {
    public let events: AsyncStream<StoreEvent>
    /// The store index when the watch was registered: the `X-Etcd-Index` header of the response.
    public let startIndex: UInt64
    public let isStream: Bool
    let id: UInt64
    private let onCancel: @Sendable () -> Void

    init(events: AsyncStream<StoreEvent>, startIndex: UInt64, isStream: Bool, id: UInt64,
         onCancel: @escaping @Sendable () -> Void) {
        self.events = events
        self.startIndex = startIndex
        self.isStream = isStream
        self.id = id
        self.onCancel = onCancel
    }

    /// Unregisters the watcher and finishes `events`. Idempotent. Call it when the HTTP client goes
    /// away or when you stop iterating early: breaking out of `for await` alone does not end the
    /// registration (dropping the last reference to the `Watcher` does).
    public func cancel() { onCancel() }

    deinit { onCancel() }
}

typealias EventContinuation = AsyncStream<StoreEvent>.Continuation

/// Registry of live watchers by watched path (etcd's watcherHub), kept inside the store's lock.
///
/// Delivery rule (etcd): an event at key K is offered to watchers on K and on every ancestor of K;
/// watchers on an ancestor need `recursive` and see nothing below a hidden (`_`) component; when a
/// directory is deleted or expires, watchers on every removed path below it are told as well. An
/// event reaches a watcher only if its index is >= the watcher's `sinceIndex`. Unlike etcd, a stream
/// watcher never receives the same event twice.
struct WatcherHub {
    struct Entry {
        let id: UInt64
        let recursive: Bool
        let stream: Bool
        let sinceIndex: UInt64
        let continuation: EventContinuation
    }

    private(set) var byPath: [String: [Entry]] = [:]
    private(set) var count = 0
    private var lastID: UInt64 = 0

    mutating func nextID() -> UInt64 {
        lastID += 1
        return lastID
    }

    mutating func add(_ e: Entry, at path: String) {
        byPath[path, default: []].append(e)
        count += 1
    }

    /// Removes watcher `id` at `path`, returning its continuation (to finish outside the lock).
    mutating func remove(id: UInt64, at path: String) -> EventContinuation? {
        guard var list = byPath[path], let i = list.firstIndex(where: { $0.id == id }) else { return nil }
        let e = list.remove(at: i)
        byPath[path] = list.isEmpty ? nil : list
        count -= 1
        return e.continuation
    }

    /// Removes every watcher (snapshot restore); the caller finishes the returned continuations.
    mutating func removeAll() -> [EventContinuation] {
        let all = byPath.values.flatMap { $0.map(\.continuation) }
        byPath = [:]
        count = 0
        return all
    }

    /// Delivers `e` to every interested watcher. `deletedPaths` are the paths removed by a delete or
    /// expiry. Watchers that are done (one-shot, overflowed or gone) are removed and their
    /// continuations appended to `finished`, to be finished after the store lock is released.
    mutating func notify(_ e: StoreEvent, deletedPaths: [String], finished: inout [EventContinuation]) {
        guard count > 0 else { return }
        var delivered = Set<UInt64>()
        let key = e.node.key
        for p in deletedPaths where p != key {
            offer(e, at: p, forced: true, delivered: &delivered, finished: &finished)
        }
        var p = "/"
        offer(e, at: p, forced: false, delivered: &delivered, finished: &finished)
        for c in KeyPath.components(key) {
            p = KeyPath.join(p, c)
            offer(e, at: p, forced: false, delivered: &delivered, finished: &finished)
        }
    }

    private mutating func offer(_ e: StoreEvent, at path: String, forced: Bool, delivered: inout Set<UInt64>,
                                finished: inout [EventContinuation]) {
        guard let list = byPath[path] else { return }
        let original = e.node.key == path
        if !original && !forced && KeyPath.isHidden(watchPath: path, keyPath: e.node.key) { return }
        var keep: [Entry] = []
        keep.reserveCapacity(list.count)
        for w in list {
            guard (w.recursive || original || forced) && e.index >= w.sinceIndex,
                  !delivered.contains(w.id)
            else {
                keep.append(w)
                continue
            }
            delivered.insert(w.id)
            let ok: Bool
            switch w.continuation.yield(e) {
            case .enqueued: ok = true
            case .dropped, .terminated: ok = false
            @unknown default: ok = false
            }
            if ok && w.stream {
                keep.append(w)
            } else {
                finished.append(w.continuation)
                count -= 1
            }
        }
        byPath[path] = keep.isEmpty ? nil : keep
    }
}
