import KV

/// `StoreClient` for a fleetd that is itself a KV member: reads go to the member's store, writes
/// through its Raft log, watches straight to its watcher hub. No HTTP, no JSON.
public struct InProcessStoreClient: StoreClient {
    public let backend: any KVBackend

    public init(backend: any KVBackend) { self.backend = backend }

    public func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64) {
        if quorum { try await barrier() }
        switch backend.store.get(KeyPath.userKey(key), recursive: recursive, sorted: true, now: WallClock.nanoseconds()) {
        case .success(let event): return (Self.node(event.node), event.etcdIndex)
        case .failure(let error) where error.code == .keyNotFound: return (nil, backend.store.currentIndex)
        case .failure(let error): throw Self.clientError(error, key: key)
        }
    }

    @discardableResult
    public func set(_ key: String, value: String, ttl: Int?, condition: StoreCondition) async throws -> StoreNode {
        let k = KeyPath.userKey(key)
        let t = ttl.map { UInt64(max(0, $0)) }
        let op: StoreOperation
        switch condition {
        case .none: op = .set(key: k, value: value, dir: false, ttl: t, refresh: false)
        case .mustExist: op = .update(key: k, value: value, ttl: t, refresh: false)
        case .mustNotExist: op = .create(key: k, value: value, dir: false, ttl: t, inOrder: false)
        case .prevIndex(let i): op = .compareAndSwap(key: k, value: value, prevValue: "", prevIndex: i, ttl: t, refresh: false)
        case .prevValue(let v): op = .compareAndSwap(key: k, value: value, prevValue: v, prevIndex: 0, ttl: t, refresh: false)
        }
        return try await propose(op, key: key).node
    }

    @discardableResult
    public func makeDirectory(_ key: String, ttl: Int?) async throws -> StoreNode {
        try await propose(.create(key: KeyPath.userKey(key), value: "", dir: true, ttl: ttl.map { UInt64(max(0, $0)) },
                                  inOrder: false), key: key).node
    }

    @discardableResult
    public func refresh(_ key: String, ttl: Int, condition: StoreCondition) async throws -> StoreNode {
        let k = KeyPath.userKey(key)
        let t = UInt64(max(0, ttl))
        let op: StoreOperation
        switch condition {
        case .prevIndex(let i): op = .compareAndSwap(key: k, value: "", prevValue: "", prevIndex: i, ttl: t, refresh: true)
        case .prevValue(let v): op = .compareAndSwap(key: k, value: "", prevValue: v, prevIndex: 0, ttl: t, refresh: true)
        default: op = .update(key: k, value: "", ttl: t, refresh: true)
        }
        return try await propose(op, key: key).node
    }

    @discardableResult
    public func delete(_ key: String, recursive: Bool, condition: StoreCondition) async throws -> StoreNode? {
        let k = KeyPath.userKey(key)
        let op: StoreOperation
        switch condition {
        case .prevIndex(let i): op = .compareAndDelete(key: k, prevValue: "", prevIndex: i)
        case .prevValue(let v): op = .compareAndDelete(key: k, prevValue: v, prevIndex: 0)
        default: op = .delete(key: k, dir: recursive, recursive: recursive)
        }
        return try await propose(op, key: key).prevNode
    }

    public func waitForChange(_ key: String, recursive: Bool, fromIndex index: UInt64) async throws -> StoreWatchEvent {
        let watcher: Watcher
        do {
            watcher = try backend.store.watch(KeyPath.userKey(key), recursive: recursive, stream: false, waitIndex: index)
        } catch {
            throw Self.clientError(error, key: key)
        }
        defer { watcher.cancel() }
        return try await withTaskCancellationHandler {
            for await event in watcher.events { return Self.event(event) }
            throw StoreClientError.server(code: 400, message: "watcher is cleared due to etcd recovery", cause: key)
        } onCancel: {
            watcher.cancel()
        }
    }

    // MARK: - Mapping

    private func barrier() async throws {
        do { try await backend.readBarrier() } catch {
            throw StoreClientError.unavailable(["local member: \(error)"])
        }
    }

    private func propose(_ op: StoreOperation, key: String) async throws -> StoreWatchEvent {
        let outcome: StoreOutcome
        do { outcome = try await backend.propose(op) } catch {
            throw StoreClientError.unavailable(["local member: \(error)"])
        }
        switch outcome.result {
        case .success(let e)?: return Self.event(e)
        case .failure(let e)?: throw Self.clientError(e, key: key)
        case nil: throw StoreClientError.malformedResponse("unexpected outcome for \(key)")
        }
    }

    static func trim(_ key: String) -> String {
        let prefix = KeyPath.userPrefix
        if key == prefix { return "/" }
        return key.hasPrefix(prefix + "/") ? String(key.dropFirst(prefix.count)) : key
    }

    static func node(_ n: NodeView) -> StoreNode {
        StoreNode(key: trim(n.key), value: n.value, dir: n.dir, ttl: n.expiration == nil ? nil : n.ttl,
                  nodes: n.nodes?.map(node), modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex)
    }

    static func event(_ e: KV.StoreEvent) -> StoreWatchEvent {
        StoreWatchEvent(action: e.action.rawValue, node: node(e.node), prevNode: e.prevNode.map(node))
    }

    static func clientError(_ e: StoreError, key: String) -> StoreClientError {
        let cause = trim(e.cause)
        switch e.code {
        case .keyNotFound: return .keyNotFound(cause.isEmpty ? key : cause)
        case .testFailed: return .compareFailed(key: key, cause: e.cause)
        case .notFile: return .notAFile(cause.isEmpty ? key : cause)
        case .notDir: return .notADirectory(cause.isEmpty ? key : cause)
        case .nodeExist: return .keyExists(cause.isEmpty ? key : cause)
        case .dirNotEmpty: return .directoryNotEmpty(cause.isEmpty ? key : cause)
        case .eventIndexCleared: return .historyCleared(currentIndex: e.index)
        default: return .server(code: e.code.rawValue, message: e.message, cause: e.cause)
        }
    }
}
