/// Records framed for the disk, plus what they change in the state the WAL tracks for segment heads.
///
/// Encoding happens in the caller's task, outside the WAL lock, so concurrent writers checksum in
/// parallel and the single writer only copies bytes, writes and syncs.
struct EncodedBatch: Sendable {
    var bytes: [UInt8] = []
    var records = 0
    var delta = WALStateDelta()

    mutating func add(_ record: WALRecord, limit: Int) throws(WALError) {
        try RecordCodec.append(record, to: &bytes, limit: limit)
        records += 1
        delta.note(record)
    }

    mutating func append(_ other: EncodedBatch) {
        bytes.append(contentsOf: other.bytes)
        records += other.records
        delta.merge(other.delta)
    }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        records = 0
        delta = WALStateDelta()
    }
}

/// The part of the log's state that each new segment repeats at its head, so older segments can be
/// deleted without losing it: metadata, hard state, snapshot marker, and the last entry index (which
/// names the next segment).
struct WALTrackedState: Sendable {
    var metadata: [UInt8]?
    var hardState: WALHardState?
    var snapshot: WALSnapshotMarker?
    var lastIndex: UInt64 = 0

    /// The records that open a new segment.
    func headRecords() -> [WALRecord] {
        var records: [WALRecord] = []
        if let metadata { records.append(.metadata(metadata)) }
        if let hardState { records.append(.hardState(hardState)) }
        if let snapshot { records.append(.snapshotMarker(snapshot)) }
        return records
    }
}

/// The effect of a run of records on ``WALTrackedState``; applied only once the records are written,
/// so a segment is never named after entries that are not on disk.
struct WALStateDelta: Sendable {
    var metadata: [UInt8]?
    var hardState: WALHardState?
    var snapshot: WALSnapshotMarker?
    /// The last entry index in the run, if it has entries.
    var setLastIndex: UInt64?
    /// The highest snapshot marker index after that entry.
    var raiseLastIndex: UInt64?

    mutating func note(_ record: WALRecord) {
        switch record {
        case .metadata(let bytes): metadata = bytes
        case .hardState(let state): hardState = state
        case .snapshotMarker(let marker):
            if snapshot == nil || snapshot!.index <= marker.index { snapshot = marker }
            raiseLastIndex = max(raiseLastIndex ?? 0, marker.index)
        case .entry(let entry):
            setLastIndex = entry.index
            raiseLastIndex = nil
        }
    }

    mutating func merge(_ later: WALStateDelta) {
        if let m = later.metadata { metadata = m }
        if let h = later.hardState { hardState = h }
        if let s = later.snapshot, snapshot == nil || snapshot!.index <= s.index { snapshot = s }
        if let set = later.setLastIndex {
            setLastIndex = set
            raiseLastIndex = later.raiseLastIndex
        } else if let raise = later.raiseLastIndex {
            raiseLastIndex = max(raiseLastIndex ?? 0, raise)
        }
    }

    func apply(to state: inout WALTrackedState) {
        if let metadata { state.metadata = metadata }
        if let hardState { state.hardState = hardState }
        if let snapshot, state.snapshot == nil || state.snapshot!.index <= snapshot.index { state.snapshot = snapshot }
        if let setLastIndex { state.lastIndex = setLastIndex }
        if let raiseLastIndex { state.lastIndex = max(state.lastIndex, raiseLastIndex) }
    }
}
