import KV
@testable import Fleet

/// A test store that passes every call to `inner`; a conforming type implements only the calls it
/// changes (a slow read, a read answered from an older state).
protocol ForwardingStoreClient: StoreClient {
    var inner: any StoreClient { get }
}

extension ForwardingStoreClient {
    func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64) {
        try await inner.get(key, recursive: recursive, quorum: quorum)
    }
    func set(_ key: String, value: String, ttl: Int?, condition: StoreCondition) async throws -> StoreNode {
        try await inner.set(key, value: value, ttl: ttl, condition: condition)
    }
    func makeDirectory(_ key: String, ttl: Int?) async throws -> StoreNode { try await inner.makeDirectory(key, ttl: ttl) }
    func refresh(_ key: String, ttl: Int, condition: StoreCondition) async throws -> StoreNode {
        try await inner.refresh(key, ttl: ttl, condition: condition)
    }
    func delete(_ key: String, recursive: Bool, condition: StoreCondition) async throws -> StoreNode? {
        try await inner.delete(key, recursive: recursive, condition: condition)
    }
    func waitForChange(_ key: String, recursive: Bool, fromIndex index: UInt64) async throws -> StoreWatchEvent {
        try await inner.waitForChange(key, recursive: recursive, fromIndex: index)
    }
    func subscribe(_ key: String, recursive: Bool, fromIndex index: UInt64) throws -> any StoreWatchSubscription {
        try inner.subscribe(key, recursive: recursive, fromIndex: index)
    }
}
