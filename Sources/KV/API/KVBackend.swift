/// A member of the cluster as `/v2/members` shows it.
public struct MemberInfo: Sendable, Hashable {
    public var id: UInt64
    /// Empty until the member has started and published its name.
    public var name: String
    public var peerURLs: [String]
    /// Empty until the member has started.
    public var clientURLs: [String]

    public init(id: UInt64, name: String, peerURLs: [String], clientURLs: [String]) {
        self.id = id
        self.name = name
        self.peerURLs = peerURLs
        self.clientURLs = clientURLs
    }

    /// The hex form etcd prints (Go's `FormatUint(id, 16)`: no leading zeros).
    public var idString: String { MemberInfo.hex(id) }

    public static func hex(_ id: UInt64) -> String { String(id, radix: 16) }
}

/// Why the member could not do what a client asked.
public enum KVBackendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No quorum answered in time (etcd: "etcdserver: request timed out").
    case timedOut
    /// The member is stopping.
    case stopped
    case peerURLExists
    case memberNotFound(UInt64)
    case memberRemoved(UInt64)
    /// A reconfiguration refused because it would risk quorum, or another is in progress.
    case reconfigurationRefused(String)

    public var description: String {
        switch self {
        case .timedOut: return "etcdserver: request timed out"
        case .stopped: return "etcdserver: server stopped"
        case .peerURLExists: return "membership: peerURL exists"
        case .memberNotFound(let id): return "No such member: \(MemberInfo.hex(id))"
        case .memberRemoved(let id): return "Member permanently removed: \(MemberInfo.hex(id))"
        case .reconfigurationRefused(let why): return why
        }
    }
}

/// What the v2 client API needs from a member: its store, a way to propose through Raft, a
/// linearizable read barrier (ReadIndex) and the cluster's membership.
public protocol KVBackend: Sendable {
    var store: Store { get }
    var clusterID: UInt64 { get }
    var memberID: UInt64 { get }
    var memberName: String { get }
    /// The committed Raft index and the current term (X-Raft-Index, X-Raft-Term).
    var raftPosition: (index: UInt64, term: UInt64) { get }
    /// The leader's member ID, when one is known.
    var leaderID: UInt64? { get }

    /// Replicates an operation and returns what applying it produced on this member.
    func propose(_ operation: StoreOperation) async throws(KVBackendError) -> StoreOutcome
    /// `propose(_:)` with a callback, called exactly once from any thread, for callers that
    /// answer without a task (the HTTP server's `respondLater`). No default that wraps the async
    /// version in a task: such a task waits for a thread of the shared pool, which blocking code
    /// elsewhere in the process can hold up, while the HTTP answer should not depend on it.
    func propose(_ operation: StoreOperation,
                 completion: @escaping @Sendable (Result<StoreOutcome, KVBackendError>) -> Void)
    /// Returns once this member's store reflects every write committed before the call.
    func readBarrier() async throws(KVBackendError)

    func members() -> [MemberInfo]
    func addMember(peerURLs: [String]) async throws(KVBackendError) -> MemberInfo
    func updateMember(id: UInt64, peerURLs: [String]) async throws(KVBackendError)
    func removeMember(id: UInt64) async throws(KVBackendError)

    /// `/v2/stats/self` and `/v2/stats/leader` bodies (nil on a follower for the latter).
    func selfStatsJSON() -> String
    func leaderStatsJSON() -> String?
}
