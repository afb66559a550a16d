/// A torn final record that replay removed from the end of the last segment.
///
/// Expected after a crash: the record was being written when the process or machine died, so it was
/// never acknowledged. Reported so the member can log it; it is not an error.
public struct WALTornTail: Equatable, Sendable, CustomStringConvertible {
    /// The segment that was truncated.
    public var file: String
    /// The new length of the file: the offset at which the torn record began.
    public var offset: Int
    /// How many bytes were removed.
    public var droppedBytes: Int
    /// What was wrong with the removed bytes.
    public var reason: String

    public var description: String {
        "truncated torn WAL tail in \(file) at offset \(offset) (\(droppedBytes) bytes dropped: \(reason))"
    }
}

/// What the log holds, as replay on open reconstructs it.
public struct WALReplay: Sendable {
    /// The latest ``WALRecord/metadata(_:)`` written, if any.
    public var metadata: [UInt8]?
    /// The latest hard state written, if any.
    public var hardState: WALHardState?
    /// The latest snapshot marker written, if any. `entries` start after it.
    public var snapshot: WALSnapshotMarker?
    /// Entries with index above the snapshot marker, contiguous and in index order, after applying
    /// overwrites (an entry at index `i` supersedes earlier entries at indexes `>= i`).
    public var entries: [WALEntry]
    /// The torn tail that was truncated, if the last write before a crash was incomplete.
    public var tornTail: WALTornTail?
}

/// Folds records, in log order, into a ``WALReplay``.
struct ReplayState {
    var metadata: [UInt8]?
    var hardState: WALHardState?
    var snapshot: WALSnapshotMarker?
    var entries: [WALEntry] = []
    /// The index the next segment's name would carry minus one; see ``WALSegment``.
    var lastIndex: UInt64

    init(lastIndex: UInt64) {
        self.lastIndex = lastIndex
    }

    mutating func apply(_ record: WALRecord, file: String, offset: Int) throws(WALError) {
        switch record {
        case .metadata(let bytes):
            metadata = bytes
        case .hardState(let state):
            hardState = state
        case .snapshotMarker(let marker):
            lastIndex = max(lastIndex, marker.index)
            if let current = snapshot, current.index > marker.index { return }
            snapshot = marker
            if let first = entries.first?.index, first <= marker.index {
                entries.removeFirst(min(entries.count, Int(marker.index - first + 1)))
            }
        case .entry(let entry):
            lastIndex = entry.index
            if let marker = snapshot, entry.index <= marker.index { return }  // covered by the snapshot
            guard let first = entries.first?.index, let last = entries.last?.index else {
                entries.append(entry)
                return
            }
            if entry.index > last &+ 1 {
                throw .entryGap(file: file, offset: offset, expectedAtMost: last &+ 1, found: entry.index)
            }
            if entry.index <= first {
                entries.removeAll(keepingCapacity: true)
            } else if entry.index <= last {
                entries.removeLast(Int(last - entry.index + 1))
            }
            entries.append(entry)
        }
    }

    /// Tracks the same `lastIndex` rule while writing, without keeping entries.
    static func nextLastIndex(_ lastIndex: UInt64, after record: WALRecord) -> UInt64 {
        switch record {
        case .entry(let e): return e.index
        case .snapshotMarker(let m): return max(lastIndex, m.index)
        default: return lastIndex
        }
    }
}
