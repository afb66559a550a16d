import Synchronization
@testable import Fleet

/// A ``StoreClient`` that records every read (key, recursive) and every write (key) before passing
/// it on, so tests can check what a page of the API actually read and wrote.
final class RecordingStore: StoreClient {
    private let inner: any StoreClient
    private let log = Mutex<[(key: String, recursive: Bool)]>([])
    private let writeLog = Mutex<[String]>([])
    private let refreshLog = Mutex<[String]>([])
    /// How long every non-recursive read takes (real time), so that concurrent readers overlap.
    private let readLatency: Duration
    private let inFlight = Mutex((now: 0, most: 0))

    init(_ inner: any StoreClient, readLatency: Duration = .zero) {
        self.inner = inner
        self.readLatency = readLatency
    }

    /// The most non-recursive reads seen in progress at once.
    var mostReadsInFlight: Int { inFlight.withLock { $0.most } }

    var reads: [(key: String, recursive: Bool)] { log.withLock { $0 } }
    var writes: [String] { writeLog.withLock { $0 } }
    /// TTL refreshes (no event), by key.
    var refreshes: [String] { refreshLog.withLock { $0 } }
    func clear() {
        log.withLock { $0.removeAll() }
        writeLog.withLock { $0.removeAll() }
        refreshLog.withLock { $0.removeAll() }
    }

    func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64) {
        log.withLock { $0.append((key, recursive)) }
        if !recursive {
            inFlight.withLock { c in
                c.now += 1
                c.most = max(c.most, c.now)
            }
            defer { inFlight.withLock { $0.now -= 1 } }
            if readLatency > .zero { try await Task.sleep(for: readLatency) }
            return try await inner.get(key, recursive: recursive, quorum: quorum)
        }
        return try await inner.get(key, recursive: recursive, quorum: quorum)
    }

    func set(_ key: String, value: String, ttl: Int?, condition: StoreCondition) async throws -> StoreNode {
        writeLog.withLock { $0.append(key) }
        return try await inner.set(key, value: value, ttl: ttl, condition: condition)
    }

    func makeDirectory(_ key: String, ttl: Int?) async throws -> StoreNode {
        try await inner.makeDirectory(key, ttl: ttl)
    }

    func refresh(_ key: String, ttl: Int, condition: StoreCondition) async throws -> StoreNode {
        refreshLog.withLock { $0.append(key) }
        return try await inner.refresh(key, ttl: ttl, condition: condition)
    }

    func delete(_ key: String, recursive: Bool, condition: StoreCondition) async throws -> StoreNode? {
        writeLog.withLock { $0.append(key) }
        return try await inner.delete(key, recursive: recursive, condition: condition)
    }

    func waitForChange(_ key: String, recursive: Bool, fromIndex index: UInt64) async throws -> StoreWatchEvent {
        try await inner.waitForChange(key, recursive: recursive, fromIndex: index)
    }
}
