/// Kinds of messages exchanged between Raft nodes. Local events (ticks, proposals by the
/// application) are methods on `RaftNode`, not messages.
public enum MessageKind: UInt8, Sendable, Hashable {
    /// A proposal forwarded by a follower to the leader (`entries` holds the data).
    case propose
    /// AppendEntries: `index`/`logTerm` identify the entry preceding `entries`.
    case append
    /// Reply to `append`/`installSnapshot`: `index` is the follower's last matching index,
    /// or on `reject` the rejected `index` with a hint (`rejectHint`, `logTerm`) for fast back-off.
    case appendResponse
    /// Leader liveness and commit propagation; `context` carries a pending ReadIndex id.
    case heartbeat
    case heartbeatResponse
    /// Pre-vote probe for term `term` (the sender's term is not changed by it).
    case requestPreVote
    case requestPreVoteResponse
    case requestVote
    case requestVoteResponse
    /// InstallSnapshot for a follower whose next entry was compacted away.
    case installSnapshot
    /// ReadIndex request (from a follower to the leader) and its answer.
    case readIndex
    case readIndexResponse
    /// Leadership transfer request, forwarded to the leader.
    case transferLeader
    /// Sent by the leader to the transferee: campaign now, ignoring leases.
    case timeoutNow
}

/// A message between two Raft nodes. Field meaning depends on `kind` (see `MessageKind`).
public struct Message: Sendable, Hashable {
    public var kind: MessageKind
    public var from: UInt64
    public var to: UInt64
    /// Sender's term (0 for `propose`, which is not bound to a term).
    public var term: UInt64
    public var logTerm: UInt64
    public var index: UInt64
    public var entries: [Entry]
    public var commit: UInt64
    public var reject: Bool
    public var rejectHint: UInt64
    public var snapshot: Snapshot?
    public var context: [UInt8]
    /// Set on votes caused by leadership transfer: they bypass the voters' leader lease.
    public var isTransfer: Bool

    public init(kind: MessageKind, from: UInt64 = 0, to: UInt64 = 0, term: UInt64 = 0,
                logTerm: UInt64 = 0, index: UInt64 = 0, entries: [Entry] = [], commit: UInt64 = 0,
                reject: Bool = false, rejectHint: UInt64 = 0, snapshot: Snapshot? = nil,
                context: [UInt8] = [], isTransfer: Bool = false) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.reject = reject
        self.rejectHint = rejectHint
        self.snapshot = snapshot
        self.context = context
        self.isTransfer = isTransfer
    }
}
