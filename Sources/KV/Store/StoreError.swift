/// etcd v2 error codes with their fixed messages and HTTP statuses.
///
/// Clients (etcdctl, python-etcd) branch on `errorCode`, and print `message`, so both must match etcd
/// byte for byte. Codes marked "unused" are etcd 0.4 leftovers kept so the table is complete.
public enum V2ErrorCode: Int, Sendable, Hashable, CaseIterable {
    case keyNotFound = 100
    case testFailed = 101
    case notFile = 102
    case noMorePeer = 103  // unused
    case notDir = 104
    case nodeExist = 105
    case keyIsPreserved = 106  // unused
    case rootReadOnly = 107
    case dirNotEmpty = 108
    case existingPeerAddr = 109  // unused
    case unauthorized = 110

    case valueRequired = 200  // unused
    case prevValueRequired = 201
    case ttlNaN = 202
    case indexNaN = 203
    case valueOrTTLRequired = 204  // unused
    case timeoutNaN = 205  // unused
    case nameRequired = 206  // unused
    case indexOrValueRequired = 207  // unused
    case indexValueMutex = 208  // unused
    case invalidField = 209
    case invalidForm = 210
    case refreshValue = 211
    case refreshTTLRequired = 212

    case raftInternal = 300
    case leaderElect = 301

    case watcherCleared = 400
    case eventIndexCleared = 401
    case standbyInternal = 402  // unused
    case invalidActiveSize = 403  // unused
    case invalidRemoveDelay = 404  // unused

    case clientInternal = 500  // unused

    /// etcd's fixed message for the code.
    public var message: String {
        switch self {
        case .keyNotFound: "Key not found"
        case .testFailed: "Compare failed"
        case .notFile: "Not a file"
        case .noMorePeer: "Reached the max number of peers in the cluster"
        case .notDir: "Not a directory"
        case .nodeExist: "Key already exists"
        case .keyIsPreserved: "The prefix of given key is a keyword in etcd"
        case .rootReadOnly: "Root is read only"
        case .dirNotEmpty: "Directory not empty"
        case .existingPeerAddr: "Peer address has existed"
        case .unauthorized: "The request requires user authentication"
        case .valueRequired: "Value is Required in POST form"
        case .prevValueRequired: "PrevValue is Required in POST form"
        case .ttlNaN: "The given TTL in POST form is not a number"
        case .indexNaN: "The given index in POST form is not a number"
        case .valueOrTTLRequired: "Value or TTL is required in POST form"
        case .timeoutNaN: "The given timeout in POST form is not a number"
        case .nameRequired: "Name is required in POST form"
        case .indexOrValueRequired: "Index or value is required"
        case .indexValueMutex: "Index and value cannot both be specified"
        case .invalidField: "Invalid field"
        case .invalidForm: "Invalid POST form"
        case .refreshValue: "Value provided on refresh"
        case .refreshTTLRequired: "A TTL must be provided on refresh"
        case .raftInternal: "Raft Internal Error"
        case .leaderElect: "During Leader Election"
        case .watcherCleared: "watcher is cleared due to etcd recovery"
        case .eventIndexCleared: "The event in requested index is outdated and cleared"
        case .standbyInternal: "Standby Internal Error"
        case .invalidActiveSize: "Invalid active size"
        case .invalidRemoveDelay: "Standby remove delay"
        case .clientInternal: "Client Internal Error"
        }
    }

    /// HTTP status: 100→404, 101/105→412, 102/108→403, 110→401, 300/301→500, everything else 400.
    public var httpStatus: Int {
        switch self {
        case .keyNotFound: 404
        case .testFailed, .nodeExist: 412
        case .notFile, .dirNotEmpty: 403
        case .unauthorized: 401
        case .raftInternal, .leaderElect: 500
        default: 400
        }
    }
}

/// An etcd v2 error as returned to clients: code, cause and the store index it was raised at.
///
/// `index` is the store's current index for store errors and 0 for request-parsing (2xx) errors,
/// which is what etcd puts in both the body and the `X-Etcd-Index` header.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: V2ErrorCode
    public var cause: String
    public var index: UInt64

    public init(_ code: V2ErrorCode, cause: String = "", index: UInt64 = 0) {
        self.code = code
        self.cause = cause
        self.index = index
    }

    public var message: String { code.message }
    public var httpStatus: Int { code.httpStatus }

    /// etcdctl's rendering: `100: Key not found (/message) [9]`.
    public var description: String { "\(code.rawValue): \(code.message) (\(cause)) [\(index)]" }

    /// A copy whose cause has the internal key prefix (e.g. `/1`) removed, as etcd does before
    /// answering (`/1/message` -> `/message`). Causes not starting with the prefix are left alone.
    public func trimmingPrefix(_ prefix: String) -> StoreError {
        guard !prefix.isEmpty, cause.hasPrefix(prefix) else { return self }
        var e = self
        e.cause = String(cause.dropFirst(prefix.count))
        return e
    }
}
