/// A Raft node as a pure, deterministic state machine: no I/O, no clock, no threads.
///
/// Drive it with `tick()` (the caller's clock), `step(_:)` (messages from peers) and requests
/// (`propose`, `readIndex`, `proposeMembershipChange`, `transferLeadership`). Then take a
/// `ready()`, persist / send / apply it, and call `advance(_:)`. Given the same inputs and
/// `RaftConfig.randomSeed`, a node always produces the same outputs.
///
/// Membership changes are single-server and take effect on each node when the entry is
/// committed (so the configuration is a function of the committed log prefix). A leader accepts
/// a new change only when the previous one is committed and it has committed an entry of its
/// own term, which avoids the known single-server-change pitfall across leader changes.
public struct RaftNode: Sendable {
    public let id: UInt64
    let config: RaftConfig
    var rng: SplitMix64

    public internal(set) var term: UInt64 = 0
    public internal(set) var vote: UInt64 = 0
    public internal(set) var role: RaftRole = .follower
    /// Known leader of the current term, 0 if unknown.
    public internal(set) var leaderID: UInt64 = 0
    var log: RaftLog
    public internal(set) var membership: Membership
    /// Membership before each committed config change after the snapshot (for compaction).
    var membershipHistory: [(index: UInt64, membership: Membership)] = []
    var snapshotMembership: Membership
    /// Config-change entries up to this index have taken effect.
    var appliedConfigIndex: UInt64 = 0
    /// Latest snapshot (to send to lagging followers).
    var latestSnapshot: Snapshot

    var progress: [UInt64: Progress] = [:]
    var votes: [UInt64: Bool] = [:]
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    /// Index of the newest config-change entry the leader may not yet have committed.
    var pendingConfIndex: UInt64 = 0
    /// Target of an ongoing leadership transfer, 0 if none.
    public internal(set) var leadTransferee: UInt64 = 0
    var readOnly = ReadOnlyQueue()
    /// ReadIndex requests received before this leader committed an entry of its term.
    var pendingReadIndexMessages: [Message] = []

    var messages: [Message] = []
    var readStates: [ReadState] = []
    var persistedHardState: HardState

    /// Creates a node from its durable state (`MemoryStorage.bootstrap` for a founding member,
    /// an empty storage for a node that will join, or whatever survived a crash).
    public init(config: RaftConfig, storage: MemoryStorage) {
        precondition(config.id != 0, "node id 0 is reserved for 'none'")
        precondition(config.heartbeatTick > 0 && config.electionTick > config.heartbeatTick,
                     "electionTick must exceed heartbeatTick")
        self.id = config.id
        self.config = config
        self.rng = SplitMix64(seed: config.randomSeed ^ (config.id &* 0x9E37_79B9_7F4A_7C15))
        self.log = RaftLog(storage: storage)
        self.snapshotMembership = storage.snapshot.metadata.membership
        self.membership = storage.snapshot.metadata.membership
        self.latestSnapshot = storage.snapshot
        self.persistedHardState = storage.hardState
        self.term = storage.hardState.term
        self.vote = storage.hardState.vote
        self.appliedConfigIndex = log.snapshotIndex
        applyCommittedConfigChanges()
        becomeFollower(term: term, leader: 0)
    }

    // MARK: - Status

    public var commitIndex: UInt64 { log.committed }
    public var appliedIndex: UInt64 { log.applied }
    public var lastIndex: UInt64 { log.lastIndex }
    public var firstIndex: UInt64 { log.firstIndex }
    /// Term of the log entry at `index` (nil if compacted or absent). For checkers and tools.
    public func logTerm(at index: UInt64) -> UInt64? { log.term(at: index) }
    /// The log entry at `index` (nil if compacted or absent).
    public func logEntry(at index: UInt64) -> Entry? { log.entry(at: index) }
    /// True if this node may campaign: it is a voter in its committed membership.
    public var isPromotable: Bool { membership.voters.contains(id) }
    /// Set if this node was ever asked to overwrite a committed entry (never, if Raft holds).
    public var sawCommittedConflict: Bool { log.committedConflict }

    /// Leader only: how far `node` has replicated (match index), for deciding when a learner
    /// has caught up and may be promoted.
    public func matchIndex(of node: UInt64) -> UInt64? {
        guard role == .leader else { return nil }
        return progress[node]?.match
    }

    // MARK: - Clock

    /// Advances the logical clock by one tick: elections on followers, heartbeats and
    /// check-quorum on the leader.
    public mutating func tick() {
        if role == .leader { tickLeader() } else { tickElection() }
    }

    mutating func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            campaign(transfer: false)
        }
    }

    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTick {
            electionElapsed = 0
            if config.checkQuorum {
                if !quorumActive() {
                    becomeFollower(term: term, leader: 0)
                    return
                }
                for key in Array(progress.keys) where key != id { progress[key]!.recentActive = false }
            }
            if leadTransferee != 0 { leadTransferee = 0 }  // transfer did not finish in time
        }
        for key in Array(progress.keys) where progress[key]!.state == .snapshot {
            progress[key]!.snapshotTicks += 1
            if progress[key]!.snapshotTicks >= config.electionTick {
                // Assume the snapshot was lost; probe again (which resends it if still needed).
                progress[key]!.becomeProbe()
            }
        }
        if heartbeatElapsed >= config.heartbeatTick {
            heartbeatElapsed = 0
            broadcastHeartbeat(context: readOnly.lastContext)
        }
    }

    func quorumActive() -> Bool {
        var active = 0
        for v in membership.voters where v == id || progress[v]?.recentActive == true { active += 1 }
        return active >= quorumSize
    }

    var quorumSize: Int { membership.voters.count / 2 + 1 }

    // MARK: - Role transitions

    mutating func reset(term newTerm: UInt64) {
        if term != newTerm {
            term = newTerm
            vote = 0
        }
        leaderID = 0
        electionElapsed = 0
        heartbeatElapsed = 0
        randomizedElectionTimeout = config.electionTick + Int(rng.next() % UInt64(config.electionTick))
        leadTransferee = 0
        votes = [:]
        pendingConfIndex = 0
        readOnly = ReadOnlyQueue()
        pendingReadIndexMessages = []
        resetProgress()
    }

    mutating func resetProgress() {
        progress = [:]
        for n in membership.allNodes {
            var p = Progress(next: log.lastIndex + 1, isLearner: membership.learners.contains(n))
            if n == id { p.match = log.lastIndex }
            progress[n] = p
        }
    }

    mutating func becomeFollower(term: UInt64, leader: UInt64) {
        reset(term: term)
        role = .follower
        leaderID = leader
    }

    mutating func becomePreCandidate() {
        // Does not change term or vote: a pre-vote round must not disturb anyone.
        role = .preCandidate
        votes = [:]
        leaderID = 0
    }

    mutating func becomeCandidate() {
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    mutating func becomeLeader() {
        reset(term: term)
        role = .leader
        leaderID = id
        progress[id]?.becomeReplicate()
        progress[id]?.recentActive = true
        // The empty entry commits everything from earlier terms (only current-term entries are
        // committed by counting) and gates membership changes until it commits.
        appendEntries([Entry(term: term, index: 0, kind: .normal, data: [])])
        pendingConfIndex = log.lastIndex
    }

    enum CampaignKind { case preVote, election, transfer }

    /// Starts an election: a pre-vote round first if enabled, unless caused by a leadership
    /// transfer (which must not be blocked by the voters' leader lease).
    mutating func campaign(transfer: Bool) {
        campaign(config.preVote && !transfer ? .preVote : (transfer ? .transfer : .election))
    }

    mutating func campaign(_ kind: CampaignKind) {
        guard role != .leader, isPromotable else { return }
        let msgKind: MessageKind
        let voteTerm: UInt64
        if kind == .preVote {
            becomePreCandidate()
            msgKind = .requestPreVote
            voteTerm = term + 1
        } else {
            becomeCandidate()
            msgKind = .requestVote
            voteTerm = term
        }
        if recordVote(from: id, granted: true) { return }
        for peer in membership.voters.sorted() where peer != id {
            send(Message(kind: msgKind, to: peer, term: voteTerm, logTerm: log.lastTerm,
                         index: log.lastIndex, isTransfer: kind == .transfer))
        }
    }

    /// Records a vote and acts on the outcome. Returns true if the election was decided.
    mutating func recordVote(from: UInt64, granted: Bool) -> Bool {
        if votes[from] == nil { votes[from] = granted }
        var yes = 0, no = 0
        for v in membership.voters {
            if let g = votes[v] { if g { yes += 1 } else { no += 1 } }
        }
        if yes >= quorumSize {
            if role == .preCandidate {
                campaign(.election)
            } else {
                becomeLeader()
                broadcastAppend()
            }
            return true
        }
        if no >= quorumSize {
            becomeFollower(term: term, leader: 0)
            return true
        }
        return false
    }

    mutating func send(_ m: Message) {
        var m = m
        m.from = id
        if m.term == 0 && m.kind != .propose { m.term = term }
        messages.append(m)
    }
}
