import Foundation
@testable import Fleet

/// A ``StoreClient`` in front of a real one that tests can make unreachable, slow or failing on reads,
/// to check what the engine does when the store misbehaves.
final class ControllableStore: StoreClient, @unchecked Sendable {
    private let inner: any StoreClient
    private let lock = NSLock()
    private var _unreachable = false
    private var _failReads = false
    private var _writeDelay: Duration = .zero
    private var _targetWrites = 0
    private var _gets = 0
    private var _recursiveGets = 0
    private var _holdWatches = false
    private var _targetWritesInFlight = 0
    private var _mostTargetWritesInFlight = 0
    private var _dropWatchEvent: (@Sendable (String) -> Bool)?
    private var _nextLeaseWriteDelay: Duration = .zero
    private var _leaseWrites: [ContinuousClock.Instant] = []

    init(_ inner: any StoreClient) { self.inner = inner }

    /// Every call fails as if no endpoint answered.
    var unreachable: Bool {
        get { lock.withLock { _unreachable } }
        set { lock.withLock { _unreachable = newValue } }
    }
    /// Recursive reads fail as unavailable (the lease still works).
    var failReads: Bool {
        get { lock.withLock { _failReads } }
        set { lock.withLock { _failReads = newValue } }
    }
    /// Delay before each write to a `job/*/target` key.
    var writeDelay: Duration {
        get { lock.withLock { _writeDelay } }
        set { lock.withLock { _writeDelay = newValue } }
    }
    /// Holds the next write to the engine lease this long before it reaches the store, as a store
    /// electing its leader holds it (a cluster's boot).
    func delayNextLeaseWrite(by delay: Duration) { lock.withLock { _nextLeaseWriteDelay = delay } }
    /// When each write to the engine lease (take or renew) reached the store.
    var leaseWrites: [ContinuousClock.Instant] { lock.withLock { _leaseWrites } }
    /// Reads (`get`) made through this client.
    var gets: Int { lock.withLock { _gets } }
    /// Recursive reads (full registry reads among them).
    var recursiveGets: Int { lock.withLock { _recursiveGets } }
    /// While set, watches wait before asking the store (so the history they need can run out).
    var holdWatches: Bool {
        get { lock.withLock { _holdWatches } }
        set { lock.withLock { _holdWatches = newValue } }
    }
    /// Writes (create or delete) of `job/*/target` keys that reached the store.
    var targetWrites: Int { lock.withLock { _targetWrites } }
    /// The most `job/*/target` writes that were in progress at once (delayed ones overlap).
    var mostTargetWritesInFlight: Int { lock.withLock { _mostTargetWritesInFlight } }

    /// From now on, watch events whose key satisfies `drop` never reach the watcher, as if the watch
    /// had lost them: what the engine's safety pass must catch.
    func dropWatchEvents(where drop: @escaping @Sendable (String) -> Bool) {
        lock.withLock { _dropWatchEvent = drop }
    }

    private func check(_ key: String) throws {
        if unreachable { throw StoreClientError.unavailable(["test: store unreachable (\(key))"]) }
    }

    private func targetWrite(_ key: String) async throws {
        guard key.hasSuffix("/target") else { return }
        let delay = writeDelay
        lock.withLock {
            _targetWritesInFlight += 1
            _mostTargetWritesInFlight = max(_mostTargetWritesInFlight, _targetWritesInFlight)
        }
        defer { lock.withLock { _targetWritesInFlight -= 1 } }
        if delay > .zero { try await Task.sleep(for: delay) }
        try check(key)
        lock.withLock { _targetWrites += 1 }
    }

    func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64) {
        try check(key)
        lock.withLock {
            _gets += 1
            if recursive { _recursiveGets += 1 }
        }
        if recursive && failReads { throw StoreClientError.unavailable(["test: reads fail (\(key))"]) }
        return try await inner.get(key, recursive: recursive, quorum: quorum)
    }

    func set(_ key: String, value: String, ttl: Int?, condition: StoreCondition) async throws -> StoreNode {
        try check(key)
        if key.hasSuffix("lease/engine-leader") {
            let delay = lock.withLock { () -> Duration in
                defer { _nextLeaseWriteDelay = .zero }
                return _nextLeaseWriteDelay
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            lock.withLock { _leaseWrites.append(.now) }
        }
        try await targetWrite(key)
        return try await inner.set(key, value: value, ttl: ttl, condition: condition)
    }

    func makeDirectory(_ key: String, ttl: Int?) async throws -> StoreNode {
        try check(key)
        return try await inner.makeDirectory(key, ttl: ttl)
    }

    func refresh(_ key: String, ttl: Int, condition: StoreCondition) async throws -> StoreNode {
        try check(key)
        return try await inner.refresh(key, ttl: ttl, condition: condition)
    }

    func delete(_ key: String, recursive: Bool, condition: StoreCondition) async throws -> StoreNode? {
        try check(key)
        try await targetWrite(key)
        return try await inner.delete(key, recursive: recursive, condition: condition)
    }

    func waitForChange(_ key: String, recursive: Bool, fromIndex index: UInt64) async throws -> StoreWatchEvent {
        try check(key)
        while holdWatches { try await Task.sleep(for: .milliseconds(10)) }
        var next = index
        while true {
            let event = try await inner.waitForChange(key, recursive: recursive, fromIndex: next)
            // An outage that began during the wait fails the watch, as a dropped connection would.
            try check(key)
            guard let drop = lock.withLock({ _dropWatchEvent }), drop(event.node.key) else { return event }
            next = max(next, event.node.modifiedIndex + 1)
        }
    }
}
