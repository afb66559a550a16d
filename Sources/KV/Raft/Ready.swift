/// Everything the application must do after feeding the node input, in this order:
/// 1. persist `snapshot` (if any), `entries` and `hardState` (if any) durably;
/// 2. send `messages` (they may rely on step 1, e.g. a vote or an append acknowledgement);
/// 3. restore `snapshot` into the state machine, then apply `committedEntries` in order, then
///    serve `readStates` whose index is applied;
/// 4. call `RaftNode.advance(_:)` with this value.
/// Persisting everything before sending is the simple, always-correct order etcd describes.
/// A leader's messages may go out before its own persist (Raft thesis §10.2.1) provided no
/// acknowledgement is stepped before that persist completes: the leader's match counts itself
/// from the moment entries are appended.
public struct Ready: Sendable {
    /// Changed hard state to persist; nil if unchanged since the last `advance`.
    public var hardState: HardState?
    /// Entries to append to stable storage (they may overwrite a conflicting suffix).
    public var entries: [Entry]
    /// Snapshot received from the leader, to persist and restore (replaces the whole log).
    public var snapshot: Snapshot?
    /// Messages to send after persisting.
    public var messages: [Message]
    /// Committed entries to apply to the state machine, in index order.
    public var committedEntries: [Entry]
    /// Results of ReadIndex requests.
    public var readStates: [ReadState]
    /// Role and leader at the time the Ready was produced (informational).
    public var role: RaftRole
    public var leaderID: UInt64

    /// True if nothing needs doing.
    public var isEmpty: Bool {
        hardState == nil && entries.isEmpty && snapshot == nil && messages.isEmpty
            && committedEntries.isEmpty && readStates.isEmpty
    }
}

/// The durable state of one node: what survives a crash. This is the in-memory model that the
/// simulator uses as a "disk"; a WAL-backed store must provide the same three things.
public struct MemoryStorage: Sendable, Hashable {
    public var hardState: HardState
    /// Latest snapshot (empty if none); `entries` continue right after it.
    public var snapshot: Snapshot
    /// Entries with indexes snapshot.index+1 ... contiguous.
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot = Snapshot(), entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }

    /// Initial durable state of a founding member of a new cluster: one `addVoter` entry per
    /// initial voter at term 1, all committed. Nodes joining later start from an empty storage
    /// and receive these entries (or a snapshot) from the leader.
    public static func bootstrap(voters: [UInt64]) -> MemoryStorage {
        let sorted = voters.sorted()
        var entries: [Entry] = []
        for (i, id) in sorted.enumerated() {
            entries.append(Entry(term: 1, index: UInt64(i + 1), kind: .configChange,
                                 data: ConfChange(.addVoter, nodeID: id).encoded()))
        }
        return MemoryStorage(hardState: HardState(term: 1, vote: 0, commit: UInt64(sorted.count)),
                             snapshot: Snapshot(), entries: entries)
    }

    public var lastIndex: UInt64 { entries.last?.index ?? snapshot.metadata.index }

    /// Persists the durable parts of a Ready (snapshot, then entries, then hard state).
    public mutating func persist(_ ready: Ready) {
        if let snap = ready.snapshot { applySnapshot(snap) }
        append(ready.entries)
        if let hs = ready.hardState { hardState = hs }
    }

    /// Replaces the log with a snapshot received from the leader.
    public mutating func applySnapshot(_ snap: Snapshot) {
        guard snap.metadata.index > snapshot.metadata.index else { return }
        snapshot = snap
        entries = []
    }

    /// Records a locally taken snapshot and discards the entries it covers.
    public mutating func compact(with snap: Snapshot) {
        guard snap.metadata.index > snapshot.metadata.index else { return }
        entries.removeAll { $0.index <= snap.metadata.index }
        snapshot = snap
    }

    /// Appends entries, truncating any conflicting suffix first.
    public mutating func append(_ new: [Entry]) {
        guard let first = new.first else { return }
        let base = snapshot.metadata.index
        let keep = Int(max(first.index, base + 1) - (base + 1))
        if keep < entries.count { entries.removeSubrange(keep...) }
        for e in new where e.index > base { entries.append(e) }
    }
}
