import Synchronization

/// A continuous watch: every change to a key (or subtree) from an index on, in store order, with
/// no gap between events.
///
/// Why: a one-shot watch (``StoreClient/waitForChange(_:recursive:fromIndex:)``) registers anew
/// for every event; a consumer that falls behind a write burst loses the store's bounded history
/// and must re-read everything. A subscription stays registered, so it only loses events when its
/// own bounded buffer overflows *and* the store's history no longer holds them; it then throws
/// ``StoreClientError/historyCleared(currentIndex:)`` honestly instead of skipping events.
///
/// One consumer at a time calls ``next()``.
public protocol StoreWatchSubscription: AnyObject, Sendable {
    /// The next event (index increasing, none skipped), waiting for it; nil once cancelled (or the
    /// consuming task is cancelled). Throws `historyCleared` when events were lost, and store errors.
    func next() async throws -> StoreWatchEvent?

    /// Ends the subscription and releases the store's registration. Idempotent.
    func cancel()
}

/// The portable subscription: a loop of one-shot watches, each from the index after the last
/// event. Used for the remote client (one long-poll per event, as fleet did) and any store without
/// a native stream. Gapless by construction; history loss surfaces as the store's `historyCleared`.
public final class PollingWatchSubscription: StoreWatchSubscription, @unchecked Sendable {
    private let store: any StoreClient
    private let key: String
    private let recursive: Bool
    /// Touched only by the single consumer (``next()``).
    private var nextIndex: UInt64
    private let cancelled = Atomic<Bool>(false)

    public init(store: any StoreClient, key: String, recursive: Bool, fromIndex: UInt64) {
        self.store = store
        self.key = key
        self.recursive = recursive
        self.nextIndex = fromIndex
    }

    public func next() async throws -> StoreWatchEvent? {
        if cancelled.load(ordering: .acquiring) || Task.isCancelled { return nil }
        let event: StoreWatchEvent
        do {
            event = try await store.waitForChange(key, recursive: recursive, fromIndex: nextIndex)
        } catch {
            if cancelled.load(ordering: .acquiring) || Task.isCancelled { return nil }
            throw error
        }
        if cancelled.load(ordering: .acquiring) { return nil }
        nextIndex = max(nextIndex, event.node.modifiedIndex + 1)
        return event
    }

    public func cancel() { cancelled.store(true, ordering: .releasing) }
}

extension StoreClient {
    /// Default: ``PollingWatchSubscription`` (a loop of one-shot watches).
    public func subscribe(_ key: String, recursive: Bool, fromIndex index: UInt64) throws
        -> any StoreWatchSubscription
    {
        PollingWatchSubscription(store: self, key: key, recursive: recursive, fromIndex: index)
    }
}
