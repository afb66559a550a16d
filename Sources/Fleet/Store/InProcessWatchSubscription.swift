import KV
import Synchronization

/// ``StoreWatchSubscription`` straight on the local store's watcher hub: one stream watcher stays
/// registered, so events arrive in order with no re-registration per event.
///
/// The hub closes a stream watcher whose buffer (the store's `watcherBuffer`) overflows, as etcd
/// closes slow watchers. The subscription then re-registers from the index after the last event it
/// handed out: the store replays what its history (1,000 events) still holds, so nothing is
/// skipped; if the history no longer reaches back that far, ``next()`` throws
/// ``StoreClientError/historyCleared(currentIndex:)`` and the consumer must re-read.
final class InProcessWatchSubscription: StoreWatchSubscription, @unchecked Sendable {
    /// Events the stream may fall behind before the hub closes it (then history replay, then
    /// `historyCleared`). Larger than the store's default (etcd's 100) because one subscription
    /// serves every agent of the process (``JobEventFeed``): a burst of writes while its task waits
    /// for a core must not cost every agent a full re-read. ~100 bytes per buffered event.
    static let defaultBuffer = 65_536
    private let buffer: Int
    private let store: Store
    private let key: String
    private let recursive: Bool
    private let cancelled = Atomic<Bool>(false)
    /// The registered watcher (replaced on re-registration; guarded by `current`).
    private let current: Mutex<Watcher?>
    /// Consumer-only state (``next()`` is called by one task at a time).
    private var iterator: AsyncStream<KV.StoreEvent>.AsyncIterator
    private var nextIndex: UInt64

    init(store: Store, key: String, recursive: Bool, fromIndex: UInt64, buffer: Int = defaultBuffer) throws {
        self.store = store
        self.key = key
        self.recursive = recursive
        self.buffer = max(1, buffer)
        let watcher = try Self.register(store, key, recursive, from: fromIndex, buffer: self.buffer)
        self.current = Mutex(watcher)
        self.iterator = watcher.events.makeAsyncIterator()
        self.nextIndex = max(fromIndex, 1)
    }

    private static func register(_ store: Store, _ key: String, _ recursive: Bool, from index: UInt64, buffer: Int) throws
        -> Watcher
    {
        do {
            return try store.watch(KeyPath.userKey(key), recursive: recursive, stream: true, waitIndex: max(index, 1),
                                   buffer: buffer)
        } catch {
            throw InProcessStoreClient.clientError(error, key: key)
        }
    }

    func next() async throws -> StoreWatchEvent? {
        while !cancelled.load(ordering: .acquiring) {
            if let event = await iterator.next() {
                let index = event.node.modifiedIndex
                guard index >= nextIndex else { continue }  // already handed out before a re-registration
                nextIndex = index + 1
                return InProcessStoreClient.event(event)
            }
            // The stream ended: cancelled, or closed by the hub (overflow, snapshot restore).
            if cancelled.load(ordering: .acquiring) || Task.isCancelled { return nil }
            let watcher = try Self.register(store, key, recursive, from: nextIndex, buffer: buffer)
            let stale = current.withLock { w -> Watcher? in
                defer { w = watcher }
                return w
            }
            stale?.cancel()
            iterator = watcher.events.makeAsyncIterator()
            if cancelled.load(ordering: .acquiring) { watcher.cancel() }
        }
        return nil
    }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        current.withLock { $0 }?.cancel()
    }
}

extension InProcessStoreClient {
    /// A native stream subscription on the local watcher hub (``InProcessWatchSubscription``).
    public func subscribe(_ key: String, recursive: Bool, fromIndex index: UInt64) throws
        -> any StoreWatchSubscription
    {
        try InProcessWatchSubscription(store: backend.store, key: key, recursive: recursive, fromIndex: index)
    }
}
