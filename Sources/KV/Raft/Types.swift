// Shared Raft vocabulary: log entries, hard state, membership and snapshots.
// These are the types the WAL and the store persist, so they are plain values with no behaviour
// beyond small conveniences.

/// The kind of a log entry: application data or a single-server membership change.
public enum EntryKind: UInt8, Sendable, Hashable {
    /// Opaque application data (the empty entry a new leader appends is also `.normal`).
    case normal = 0
    /// An encoded `ConfChange`; it takes effect on every node when it is committed.
    case configChange = 1
}

/// One replicated log entry. `index` starts at 1; `term` is the leader term that created it.
public struct Entry: Sendable, Hashable {
    public var term: UInt64
    public var index: UInt64
    public var kind: EntryKind
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// The state that must be on stable storage before any message that depends on it is sent:
/// the current term, the vote cast in it (0 = none) and the highest index known committed.
public struct HardState: Sendable, Hashable {
    public var term: UInt64
    public var vote: UInt64
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: UInt64 = 0, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    /// True for a node that has never voted, seen a term or committed anything.
    public var isEmpty: Bool { term == 0 && vote == 0 && commit == 0 }
}

/// Cluster membership: voters form quorums; learners only receive the log.
public struct Membership: Sendable, Hashable {
    public var voters: Set<UInt64>
    public var learners: Set<UInt64>

    public init(voters: Set<UInt64> = [], learners: Set<UInt64> = []) {
        self.voters = voters
        self.learners = learners
    }

    /// Every node the leader replicates to (voters and learners).
    public var allNodes: Set<UInt64> { voters.union(learners) }

    /// Applies one single-server change. Invalid changes (e.g. demoting a voter) are ignored,
    /// because the leader already rejected them at proposal time and every node must agree.
    public mutating func apply(_ change: ConfChange) {
        switch change.kind {
        case .addVoter:
            learners.remove(change.nodeID)
            voters.insert(change.nodeID)
        case .addLearner:
            if !voters.contains(change.nodeID) { learners.insert(change.nodeID) }
        case .remove:
            voters.remove(change.nodeID)
            learners.remove(change.nodeID)
        }
    }
}

/// What a single-server membership change does.
public enum ConfChangeKind: UInt8, Sendable, Hashable {
    /// Add a voter, or promote an existing learner to voter.
    case addVoter = 0
    /// Add a non-voting learner that catches up before promotion.
    case addLearner = 1
    /// Remove a voter or a learner.
    case remove = 2
}

/// A single-server membership change, carried in an entry of kind `.configChange`.
public struct ConfChange: Sendable, Hashable {
    public var kind: ConfChangeKind
    public var nodeID: UInt64

    public init(_ kind: ConfChangeKind, nodeID: UInt64) {
        self.kind = kind
        self.nodeID = nodeID
    }

    /// Fixed 9-byte encoding: kind, then node id little-endian.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [kind.rawValue]
        out.reserveCapacity(9)
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: nodeID >> UInt64(shift))) }
        return out
    }

    /// Decodes `encoded()`; nil for malformed data (such entries are ignored by every node alike).
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count == 9, let kind = ConfChangeKind(rawValue: bytes[0]) else { return nil }
        var id: UInt64 = 0
        for i in 0..<8 { id |= UInt64(bytes[1 + i]) << UInt64(8 * i) }
        self.kind = kind
        self.nodeID = id
    }
}

/// Describes the log prefix a snapshot replaces.
public struct SnapshotMetadata: Sendable, Hashable {
    /// Last log index included in the snapshot.
    public var index: UInt64
    /// Term of the entry at `index`.
    public var term: UInt64
    /// Membership as of `index`.
    public var membership: Membership

    public init(index: UInt64 = 0, term: UInt64 = 0, membership: Membership = Membership()) {
        self.index = index
        self.term = term
        self.membership = membership
    }
}

/// A state-machine snapshot plus the metadata needed to continue the log after it.
public struct Snapshot: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    /// Opaque application state (the core never looks inside).
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata = SnapshotMetadata(), data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }

    /// An index-0 snapshot means "no snapshot".
    public var isEmpty: Bool { metadata.index == 0 }
}

/// The result of a linearizable read request: once the local state machine has applied
/// `index`, reading it is linearizable for the request identified by `context`.
public struct ReadState: Sendable, Hashable {
    public var index: UInt64
    public var context: [UInt8]

    public init(index: UInt64, context: [UInt8]) {
        self.index = index
        self.context = context
    }
}

/// A node's role in its current term.
public enum RaftRole: Sendable, Hashable {
    case follower, preCandidate, candidate, leader
}
