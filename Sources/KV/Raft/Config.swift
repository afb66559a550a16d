/// How ReadIndex requests are confirmed.
public enum ReadOnlyOption: Sendable, Hashable {
    /// Safe: the leader confirms it is still leader with a heartbeat round before answering.
    case safe
    /// Lease-based: the leader answers from its commit index without a round trip, trusting
    /// that no other leader can exist while its check-quorum lease holds. This depends on
    /// bounded clock drift between nodes (ticks must advance at similar rates), so it is
    /// only linearizable under that assumption. Requires `checkQuorum`.
    case leaseBased
}

/// Static configuration of one Raft node.
public struct RaftConfig: Sendable {
    /// This node's id; never 0 (0 means "none" in votes and leader hints).
    public var id: UInt64
    /// Ticks without hearing from a leader before a follower campaigns. The actual timeout is
    /// randomized in [electionTick, 2*electionTick) to avoid split votes.
    public var electionTick: Int
    /// Ticks between leader heartbeats; must be well below `electionTick`.
    public var heartbeatTick: Int
    /// Maximum entries per append message (batching bound).
    public var maxEntriesPerMessage: Int
    /// Maximum unacknowledged append messages per follower in replicate state (pipelining).
    public var maxInflightMessages: Int
    /// Run a pre-vote round before bumping the term, so a partitioned node that rejoins does not
    /// force the cluster into a new election.
    public var preVote: Bool
    /// A leader that has not heard from a quorum within an election timeout steps down; followers
    /// that heard from a leader recently ignore vote requests (leader lease).
    public var checkQuorum: Bool
    public var readOnlyOption: ReadOnlyOption
    /// If true, proposals on followers throw `RaftError.notLeader` instead of being forwarded.
    public var disableProposalForwarding: Bool
    /// Seed for the node's own random generator (election timeout jitter). Runs are
    /// deterministic for a given seed and input sequence.
    public var randomSeed: UInt64

    public init(id: UInt64, electionTick: Int = 10, heartbeatTick: Int = 1,
                maxEntriesPerMessage: Int = 64, maxInflightMessages: Int = 64,
                preVote: Bool = true, checkQuorum: Bool = true,
                readOnlyOption: ReadOnlyOption = .safe, disableProposalForwarding: Bool = false,
                randomSeed: UInt64 = 0) {
        self.id = id
        self.electionTick = electionTick
        self.heartbeatTick = heartbeatTick
        self.maxEntriesPerMessage = maxEntriesPerMessage
        self.maxInflightMessages = maxInflightMessages
        self.preVote = preVote
        self.checkQuorum = checkQuorum
        self.readOnlyOption = readOnlyOption
        self.disableProposalForwarding = disableProposalForwarding
        self.randomSeed = randomSeed
    }
}

/// SplitMix64: a tiny, fast, seedable generator. Used instead of the system generator so that
/// every run is reproducible from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
