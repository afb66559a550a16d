/// The application-facing requests and the Ready/advance handshake.
extension RaftNode {
    /// Proposes one entry of application data. On a follower it is forwarded to the leader
    /// (unless forwarding is disabled); with no known leader it fails with `.notLeader(nil)`.
    /// Success means "accepted for replication", not "committed": watch committed entries.
    public mutating func propose(_ data: [UInt8]) throws(RaftError) {
        try propose(batch: [data])
    }

    /// Proposes several entries at once; they travel in as few append messages as possible.
    public mutating func propose(batch: [[UInt8]]) throws(RaftError) {
        let ents = batch.map { Entry(term: 0, index: 0, kind: .normal, data: $0) }
        switch role {
        case .leader:
            if leadTransferee != 0 {
                throw .proposalDropped(reason: "leadership transfer to \(leadTransferee) in progress")
            }
            appendProposals(ents)
        default:
            guard leaderID != 0 else { throw .notLeader(leaderHint: nil) }
            if config.disableProposalForwarding { throw .notLeader(leaderHint: leaderID) }
            send(Message(kind: .propose, to: leaderID, term: 0, entries: ents))
        }
    }

    /// Requests a linearizable read. When a `ReadState` with this `context` (which must be
    /// unique per request) appears in a Ready, reads of the state machine are linearizable once
    /// it has applied `ReadState.index`. Fails if no leader is known; a request may also be
    /// silently lost (leader change, network) so callers need a timeout and retry.
    public mutating func readIndex(context: [UInt8]) throws(RaftError) {
        precondition(!context.isEmpty, "read context must be non-empty and unique")
        switch role {
        case .leader:
            handleReadIndex(Message(kind: .readIndex, from: id, to: id, term: term, context: context))
        default:
            guard leaderID != 0 else { throw .notLeader(leaderHint: nil) }
            send(Message(kind: .readIndex, to: leaderID, context: context))
        }
    }

    /// Asks the leader to hand leadership to `target` (a voter). The leader stops accepting
    /// proposals, brings the target up to date and tells it to campaign immediately. Aborted if
    /// it does not finish within an election timeout.
    public mutating func transferLeadership(to target: UInt64) throws(RaftError) {
        switch role {
        case .leader:
            handleTransferLeader(target: target)
        default:
            guard leaderID != 0 else { throw .notLeader(leaderHint: nil) }
            send(Message(kind: .transferLeader, to: leaderID, index: target))
        }
    }

    /// Starts an election now (tests and tools; normal elections come from ticks).
    public mutating func campaign() {
        campaign(transfer: false)
    }

    var currentHardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }

    /// True if `ready()` would return something to do.
    public var hasReady: Bool {
        !messages.isEmpty || !readStates.isEmpty || currentHardState != persistedHardState
            || log.unstableSnapshot != nil || log.stableIndex < log.lastIndex
            || log.committed > max(log.applied, log.snapshotIndex)
    }

    /// Collects the work for the application (see `Ready`). Messages and read states are handed
    /// over now; durable state is marked persisted by `advance(_:)`.
    public mutating func ready() -> Ready {
        let hs = currentHardState
        let r = Ready(hardState: hs == persistedHardState ? nil : hs,
                      entries: log.unstableEntries,
                      snapshot: log.unstableSnapshot,
                      messages: messages,
                      committedEntries: log.nextCommittedEntries(),
                      readStates: readStates,
                      role: role,
                      leaderID: leaderID)
        messages = []
        readStates = []
        return r
    }

    /// Acknowledges that a Ready has been persisted and applied.
    public mutating func advance(_ r: Ready) {
        if let hs = r.hardState { persistedHardState = hs }
        if let snap = r.snapshot, log.unstableSnapshot?.metadata.index == snap.metadata.index {
            log.unstableSnapshot = nil
        }
        if let last = r.entries.last, log.term(at: last.index) == last.term {
            log.stableIndex = max(log.stableIndex, last.index)
        }
        if let last = r.committedEntries.last { log.applied = max(log.applied, last.index) }
    }

    /// Takes a snapshot at `index` (which must be applied) with the application's state `data`,
    /// and discards the log up to it. The caller persists the returned snapshot (and may then
    /// drop its stored entries up to `index`). Followers that need discarded entries get the
    /// snapshot instead.
    public mutating func compact(upTo index: UInt64, data: [UInt8]) throws(RaftError) -> Snapshot {
        guard index > log.snapshotIndex, index <= log.applied, let t = log.term(at: index) else {
            throw .compactionOutOfRange(requested: index, firstIndex: log.firstIndex, applied: log.applied)
        }
        let snap = Snapshot(metadata: SnapshotMetadata(index: index, term: t, membership: membership(at: index)),
                            data: data)
        log.compact(to: index)
        membershipHistory.removeAll { $0.index <= index }
        snapshotMembership = snap.metadata.membership
        latestSnapshot = snap
        return snap
    }
}
