/// A store write (or quorum read), as decided by the HTTP layer; what Raft replicates.
///
/// Keys are internal store paths (`/1/message` for the user key `/message`, see `KeyPath.userKey`).
/// TTLs are relative seconds: the absolute expiry is computed on apply from the command's `now`, so
/// every member derives the same expiration.
public enum StoreOperation: Sendable, Hashable {
    /// PUT without conditions (action `set`).
    case set(key: String, value: String, dir: Bool, ttl: UInt64?, refresh: Bool)
    /// PUT prevExist=false (`inOrder: false`) or POST (`inOrder: true`), action `create`.
    case create(key: String, value: String, dir: Bool, ttl: UInt64?, inOrder: Bool)
    /// PUT prevExist=true without conditions (action `update`).
    case update(key: String, value: String, ttl: UInt64?, refresh: Bool)
    /// PUT with prevValue and/or prevIndex (action `compareAndSwap`).
    case compareAndSwap(key: String, value: String, prevValue: String, prevIndex: UInt64, ttl: UInt64?,
                        refresh: Bool)
    /// DELETE without conditions (action `delete`).
    case delete(key: String, dir: Bool, recursive: Bool)
    /// DELETE with prevValue and/or prevIndex (action `compareAndDelete`).
    case compareAndDelete(key: String, prevValue: String, prevIndex: UInt64)
    /// GET quorum=true: a read that goes through Raft (etcd's QGET); changes nothing.
    case get(key: String, recursive: Bool, sorted: Bool)
    /// Remove every node whose TTL ran out at or before the command's `now` (etcd's SYNC entry).
    /// The leader proposes it periodically (etcd: every ~500 ms while TTL keys exist; see
    /// `Store.nextExpiration`).
    case expire
}

/// A replicated store command: the operation plus the leader's clock reading.
///
/// `now` (Unix nanoseconds) is set once by the member that proposes the command and is the only
/// time the store ever sees, so all members apply identical expirations and TTL answers.
public struct StoreCommand: Sendable, Hashable {
    public var now: Int64
    public var operation: StoreOperation

    public init(now: Int64, _ operation: StoreOperation) {
        self.now = now
        self.operation = operation
    }

    /// Whether applying this command can change the store (everything but a quorum GET).
    public var isWrite: Bool {
        if case .get = operation { return false }
        return true
    }

    static let version: UInt8 = 1

    /// Deterministic binary form for the Raft log.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.version)
        w.i64(now)
        switch operation {
        case let .set(key, value, dir, ttl, refresh):
            w.u8(1); w.string(key); w.string(value); w.bool(dir); w.optU64(ttl); w.bool(refresh)
        case let .create(key, value, dir, ttl, inOrder):
            w.u8(2); w.string(key); w.string(value); w.bool(dir); w.optU64(ttl); w.bool(inOrder)
        case let .update(key, value, ttl, refresh):
            w.u8(3); w.string(key); w.string(value); w.optU64(ttl); w.bool(refresh)
        case let .compareAndSwap(key, value, prevValue, prevIndex, ttl, refresh):
            w.u8(4); w.string(key); w.string(value); w.string(prevValue); w.u64(prevIndex); w.optU64(ttl)
            w.bool(refresh)
        case let .delete(key, dir, recursive):
            w.u8(5); w.string(key); w.bool(dir); w.bool(recursive)
        case let .compareAndDelete(key, prevValue, prevIndex):
            w.u8(6); w.string(key); w.string(prevValue); w.u64(prevIndex)
        case let .get(key, recursive, sorted):
            w.u8(7); w.string(key); w.bool(recursive); w.bool(sorted)
        case .expire:
            w.u8(8)
        }
        return w.bytes
    }

    /// Decodes `encoded()` output.
    public init(decoding bytes: [UInt8]) throws(StoreDecodingError) {
        var r = ByteReader(bytes)
        let v = try r.u8()
        guard v == Self.version else { throw .unsupportedVersion(v) }
        now = try r.i64()
        let tag = try r.u8()
        switch tag {
        case 1:
            operation = .set(key: try r.string(), value: try r.string(), dir: try r.bool(), ttl: try r.optU64(),
                             refresh: try r.bool())
        case 2:
            operation = .create(key: try r.string(), value: try r.string(), dir: try r.bool(), ttl: try r.optU64(),
                                inOrder: try r.bool())
        case 3:
            operation = .update(key: try r.string(), value: try r.string(), ttl: try r.optU64(),
                                refresh: try r.bool())
        case 4:
            operation = .compareAndSwap(key: try r.string(), value: try r.string(), prevValue: try r.string(),
                                        prevIndex: try r.u64(), ttl: try r.optU64(), refresh: try r.bool())
        case 5:
            operation = .delete(key: try r.string(), dir: try r.bool(), recursive: try r.bool())
        case 6:
            operation = .compareAndDelete(key: try r.string(), prevValue: try r.string(), prevIndex: try r.u64())
        case 7:
            operation = .get(key: try r.string(), recursive: try r.bool(), sorted: try r.bool())
        case 8:
            operation = .expire
        default:
            throw .badTag(tag)
        }
        guard r.atEnd else { throw .invalid("trailing bytes") }
    }
}

/// What applying a `StoreCommand` produced.
public enum StoreOutcome: Sendable, Hashable {
    /// A successful operation (for a quorum GET, the `get` event).
    case event(StoreEvent)
    /// An `expire` command: the expire events, possibly none.
    case expired([StoreEvent])
    /// A failed operation; the store is unchanged.
    case failure(StoreError)

    /// The single event or error for request/response operations; `nil` for `expired`.
    public var result: Result<StoreEvent, StoreError>? {
        switch self {
        case .event(let e): .success(e)
        case .failure(let e): .failure(e)
        case .expired: nil
        }
    }
}
