/// Errors returned to the application by `RaftNode` requests. Each says what to do next.
public enum RaftError: Error, Sendable, Hashable, CustomStringConvertible {
    /// This node is not the leader and cannot forward the request. Retry on `leaderHint`
    /// if known, otherwise wait for an election and retry.
    case notLeader(leaderHint: UInt64?)
    /// The leader refused the proposal (e.g. a leadership transfer is in progress); retry later.
    case proposalDropped(reason: String)
    /// A membership change is still uncommitted (or the new leader has not yet committed an
    /// entry of its term); retry once `pendingIndex` is committed.
    case membershipChangeInProgress(pendingIndex: UInt64)
    /// The membership change makes no sense for the current membership; fix the request.
    case invalidMembershipChange(reason: String)
    /// Compaction asked for an index that is not applied yet or already compacted.
    case compactionOutOfRange(requested: UInt64, firstIndex: UInt64, applied: UInt64)

    public var description: String {
        switch self {
        case .notLeader(let hint):
            if let hint { return "not leader; leader is \(hint): retry there" }
            return "not leader and no leader known: retry after an election"
        case .proposalDropped(let reason):
            return "proposal dropped: \(reason); retry later"
        case .membershipChangeInProgress(let idx):
            return "membership change in progress (pending index \(idx)): retry after it commits"
        case .invalidMembershipChange(let reason):
            return "invalid membership change: \(reason)"
        case .compactionOutOfRange(let req, let first, let applied):
            return "cannot compact to \(req): must be in [\(first), \(applied)] (first index, applied)"
        }
    }
}
