/// The node's view of the log: a snapshot point followed by entries, with two cursors:
/// `stableIndex` (everything up to it is known to be on disk) and `applied` (everything up to
/// it has been handed to the application). Entries are all kept in memory; compaction via
/// snapshots bounds the size.
struct RaftLog: Sendable {
    private(set) var snapshotIndex: UInt64
    private(set) var snapshotTerm: UInt64
    /// entries[k].index == snapshotIndex + 1 + k
    private(set) var entries: [Entry]
    private(set) var committed: UInt64
    /// Highest index handed to the application (committed entries or a snapshot).
    var applied: UInt64
    /// Highest index known to be persisted.
    var stableIndex: UInt64
    /// Snapshot received from a leader and not yet persisted.
    var unstableSnapshot: Snapshot?
    /// Set if a leader ever asked to overwrite a committed entry (a safety bug elsewhere).
    private(set) var committedConflict = false

    init(storage: MemoryStorage) {
        snapshotIndex = storage.snapshot.metadata.index
        snapshotTerm = storage.snapshot.metadata.term
        entries = storage.entries
        let last = storage.entries.last?.index ?? snapshotIndex
        committed = min(max(storage.hardState.commit, snapshotIndex), last)
        applied = snapshotIndex
        stableIndex = last
        unstableSnapshot = nil
    }

    var firstIndex: UInt64 { snapshotIndex + 1 }
    var lastIndex: UInt64 { snapshotIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? snapshotTerm }

    /// Term of the entry at `index`, or nil if it is compacted or beyond the end.
    func term(at index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshotTerm }
        if index < snapshotIndex || index > lastIndex { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    func entry(at index: UInt64) -> Entry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool { self.term(at: index) == term }

    /// Raft's election restriction: is a log ending at (lastIndex, lastTerm) at least as
    /// up to date as ours?
    func isUpToDate(lastIndex li: UInt64, lastTerm lt: UInt64) -> Bool {
        lt > lastTerm || (lt == lastTerm && li >= lastIndex)
    }

    /// Entries [lo, hi] capped at `maxCount`; nil if `lo` is compacted.
    func slice(from lo: UInt64, through hi: UInt64, maxCount: Int) -> [Entry]? {
        if lo <= snapshotIndex { return nil }
        if lo > hi || lo > lastIndex { return [] }
        let end = min(hi, lastIndex, lo + UInt64(max(maxCount, 1)) - 1)
        let a = Int(lo - snapshotIndex - 1), b = Int(end - snapshotIndex - 1)
        return Array(entries[a...b])
    }

    /// Largest index <= `index` whose term is <= `term` (used for fast back-off on conflicts).
    /// Stops at the snapshot point, below which terms are unknown.
    func findConflictByTerm(index: UInt64, term: UInt64) -> UInt64 {
        var i = min(index, lastIndex)
        while i > snapshotIndex, let t = self.term(at: i), t > term { i -= 1 }
        return i
    }

    /// Appends entries after truncating any conflicting suffix. Returns false (and changes
    /// nothing) if that would rewrite a committed entry, which a correct leader never asks for.
    @discardableResult
    mutating func append(_ new: [Entry]) -> Bool {
        guard let first = new.first else { return true }
        if first.index <= committed {
            committedConflict = true
            return false
        }
        if first.index <= lastIndex {
            entries.removeSubrange(Int(first.index - snapshotIndex - 1)...)
        }
        stableIndex = min(stableIndex, first.index - 1)
        entries.append(contentsOf: new)
        return true
    }

    /// Follower side of AppendEntries. Returns the last index covered by the message if the
    /// log matched at (prevIndex, prevTerm), nil otherwise.
    mutating func maybeAppend(prevIndex: UInt64, prevTerm: UInt64, commit: UInt64, entries new: [Entry]) -> UInt64? {
        guard matchTerm(prevIndex, prevTerm) else { return nil }
        let lastNew = prevIndex + UInt64(new.count)
        // Find the first entry that is not already present with the same term.
        var k = 0
        while k < new.count {
            let e = new[k]
            if e.index <= snapshotIndex || matchTerm(e.index, e.term) { k += 1 } else { break }
        }
        if k < new.count {
            if !append(Array(new[k...])) { return nil }
        }
        self.commit(to: min(commit, lastNew))
        return lastNew
    }

    /// Advances the commit index (never backwards, never past the last entry).
    @discardableResult
    mutating func commit(to index: UInt64) -> Bool {
        let target = min(index, lastIndex)
        guard target > committed else { return false }
        committed = target
        return true
    }

    /// Entries that are persisted nowhere yet.
    var unstableEntries: [Entry] {
        guard stableIndex < lastIndex else { return [] }
        let from = max(stableIndex, snapshotIndex)
        return Array(entries[Int(from - snapshotIndex)...])
    }

    /// Committed entries not yet handed to the application.
    func nextCommittedEntries(maxCount: Int = Int.max) -> [Entry] {
        let lo = max(applied, snapshotIndex) + 1
        guard committed >= lo else { return [] }
        return slice(from: lo, through: committed, maxCount: maxCount) ?? []
    }

    /// Replaces the log with a snapshot (follower receiving InstallSnapshot).
    mutating func restore(_ snap: Snapshot) {
        snapshotIndex = snap.metadata.index
        snapshotTerm = snap.metadata.term
        entries = []
        committed = snapshotIndex
        applied = snapshotIndex
        stableIndex = snapshotIndex
        unstableSnapshot = snap
    }

    /// Discards entries up to `index` (which must be applied) after a local snapshot.
    mutating func compact(to index: UInt64) {
        guard index > snapshotIndex, index <= lastIndex, let t = term(at: index) else { return }
        entries.removeSubrange(0..<Int(index - snapshotIndex))
        snapshotIndex = index
        snapshotTerm = t
        stableIndex = max(stableIndex, index)
    }
}
