/// A node of the key-value store as Fleet sees it (the etcd v2 node shape).
public struct StoreNode: Sendable, Equatable, Codable {
    public var key: String
    public var value: String?
    public var dir: Bool
    /// Remaining seconds to live, if the node has a TTL.
    public var ttl: Int64?
    public var nodes: [StoreNode]?
    public var modifiedIndex: UInt64
    public var createdIndex: UInt64

    public init(key: String, value: String? = nil, dir: Bool = false, ttl: Int64? = nil, nodes: [StoreNode]? = nil,
                modifiedIndex: UInt64 = 0, createdIndex: UInt64 = 0) {
        self.key = key
        self.value = value
        self.dir = dir
        self.ttl = ttl
        self.nodes = nodes
        self.modifiedIndex = modifiedIndex
        self.createdIndex = createdIndex
    }

    enum CodingKeys: String, CodingKey { case key, value, dir, ttl, nodes, modifiedIndex, createdIndex }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        key = try c.decodeIfPresent(String.self, forKey: .key) ?? "/"
        value = try c.decodeIfPresent(String.self, forKey: .value)
        dir = try c.decodeIfPresent(Bool.self, forKey: .dir) ?? false
        ttl = try c.decodeIfPresent(Int64.self, forKey: .ttl)
        nodes = try c.decodeIfPresent([StoreNode].self, forKey: .nodes)
        modifiedIndex = try c.decodeIfPresent(UInt64.self, forKey: .modifiedIndex) ?? 0
        createdIndex = try c.decodeIfPresent(UInt64.self, forKey: .createdIndex) ?? 0
    }

    /// Every file (non-directory) node in this subtree, depth first.
    public var leaves: [StoreNode] {
        guard dir else { return [self] }
        return (nodes ?? []).flatMap(\.leaves)
    }
}

/// A change in the store, as a watch reports it.
public struct StoreWatchEvent: Sendable, Equatable, Codable {
    /// get, set, create, update, delete, compareAndSwap, compareAndDelete, expire.
    public var action: String
    public var node: StoreNode
    public var prevNode: StoreNode?

    public init(action: String, node: StoreNode, prevNode: StoreNode? = nil) {
        self.action = action
        self.node = node
        self.prevNode = prevNode
    }

    /// Whether the event removed its node (delete, compareAndDelete, expire).
    public var isRemoval: Bool { ["delete", "compareAndDelete", "expire"].contains(action) }
}

/// A precondition on a write, checked atomically by the store.
public enum StoreCondition: Sendable, Equatable {
    case none
    /// The key must exist (update).
    case mustExist
    /// The key must not exist (create).
    case mustNotExist
    /// The key's modifiedIndex must be this (compare-and-swap / compare-and-delete).
    case prevIndex(UInt64)
    /// The key's value must be this.
    case prevValue(String)
}

/// What went wrong talking to the store. Conditions that fail are ordinary outcomes for Fleet
/// (leases, schedules), so they are distinct cases.
public enum StoreClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case keyNotFound(String)
    case compareFailed(key: String, cause: String)
    case keyExists(String)
    case notAFile(String)
    case notADirectory(String)
    case directoryNotEmpty(String)
    /// A watch asked for history the store no longer keeps; re-read and watch from `currentIndex + 1`.
    case historyCleared(currentIndex: UInt64)
    /// No endpoint answered; each failure names its endpoint.
    case unavailable([String])
    /// Any other error the store reported (etcd error code, message, cause).
    case server(code: Int, message: String, cause: String)
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .keyNotFound(let k): return "key not found: \(k)"
        case .compareFailed(let k, let c): return "compare failed on \(k): \(c)"
        case .keyExists(let k): return "key already exists: \(k)"
        case .notAFile(let k): return "not a file: \(k)"
        case .notADirectory(let k): return "not a directory: \(k)"
        case .directoryNotEmpty(let k): return "directory not empty: \(k)"
        case .historyCleared(let i): return "watch history cleared (store index now \(i))"
        case .unavailable(let reasons): return "store unavailable: " + reasons.joined(separator: "; ")
        case .server(let code, let message, let cause): return "store error \(code): \(message) (\(cause))"
        case .malformedResponse(let detail): return "malformed store response: \(detail)"
        }
    }

    /// Whether the failure is the store being unreachable (retry later) rather than an answer.
    public var isUnavailable: Bool {
        if case .unavailable = self { return true }
        return false
    }
}

/// The one small interface through which Fleet uses the key-value store.
///
/// Two implementations: over the etcd v2 HTTP API (our members or a real etcd started with
/// --enable-v2) and in-process, when fleetd is itself a KV member. Keys are absolute paths.
public protocol StoreClient: Sendable {
    /// Reads a key or a directory (with its subtree when `recursive`); nil when it does not exist.
    /// Also returns the store's index at the time of the read, to watch from `index + 1`.
    func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64)

    /// Writes a value, optionally with a TTL in seconds, if `condition` holds.
    @discardableResult
    func set(_ key: String, value: String, ttl: Int?, condition: StoreCondition) async throws -> StoreNode

    /// Creates a directory (with an optional TTL); fails with keyExists if it exists.
    @discardableResult
    func makeDirectory(_ key: String, ttl: Int?) async throws -> StoreNode

    /// Resets a key's TTL without changing its value and without waking watchers.
    @discardableResult
    func refresh(_ key: String, ttl: Int, condition: StoreCondition) async throws -> StoreNode

    /// Deletes a key (or a directory with `recursive`) if `condition` holds; returns the deleted node.
    @discardableResult
    func delete(_ key: String, recursive: Bool, condition: StoreCondition) async throws -> StoreNode?

    /// Waits for the first change at or after `index` to `key` (and its subtree with `recursive`).
    func waitForChange(_ key: String, recursive: Bool, fromIndex index: UInt64) async throws -> StoreWatchEvent

    /// Every change to `key` (and its subtree with `recursive`) from `index` on, in order, with no
    /// gap (see ``StoreWatchSubscription``). If `index` is already out of the store's history the
    /// in-process client throws at once and the default on the first `next()`. Default: a loop of
    /// ``waitForChange(_:recursive:fromIndex:)`` (``PollingWatchSubscription``).
    func subscribe(_ key: String, recursive: Bool, fromIndex index: UInt64) throws -> any StoreWatchSubscription
}

extension StoreClient {
    public func get(_ key: String, recursive: Bool = false) async throws -> (node: StoreNode?, index: UInt64) {
        try await get(key, recursive: recursive, quorum: false)
    }

    @discardableResult
    public func set(_ key: String, value: String, ttl: Int? = nil) async throws -> StoreNode {
        try await set(key, value: value, ttl: ttl, condition: .none)
    }
}
