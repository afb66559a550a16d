/// A log entry as the WAL stores it. Independent of the Raft module's `Entry` so storage does not depend
/// on the consensus code; the member maps one onto the other.
public struct WALEntry: Equatable, Sendable {
    public var term: UInt64
    public var index: UInt64
    /// Entry kind as the Raft core numbers it (for example 0 = normal, 1 = configuration change).
    /// The WAL does not interpret it.
    public var kind: UInt8
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: UInt8 = 0, data: [UInt8]) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// Raft's persistent state besides the log: current term, vote, and commit index.
public struct WALHardState: Equatable, Sendable {
    public var term: UInt64
    public var vote: UInt64
    public var commit: UInt64

    public init(term: UInt64, vote: UInt64, commit: UInt64) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// Records that a snapshot covering everything up to `index` (at `term`) exists, so replay can skip the
/// entries it covers and ``WAL/releaseBefore(_:)`` can delete segments behind it.
public struct WALSnapshotMarker: Equatable, Sendable {
    public var index: UInt64
    public var term: UInt64

    public init(index: UInt64, term: UInt64) {
        self.index = index
        self.term = term
    }
}

/// One record of the write-ahead log.
public enum WALRecord: Equatable, Sendable {
    /// Opaque member identity (cluster id, member id), written once by the member; the WAL copies the
    /// latest one to the head of every new segment so it survives ``WAL/releaseBefore(_:)``.
    case metadata([UInt8])
    /// A log entry. Appending index `i` supersedes any earlier entries at indexes `>= i`.
    case entry(WALEntry)
    /// The latest persistent Raft state; the last one written wins on replay.
    case hardState(WALHardState)
    /// A snapshot now covers entries up to the marker's index.
    case snapshotMarker(WALSnapshotMarker)

    /// On-disk type byte. Zero is never used, so zero-filled space never parses as a record.
    enum Kind: UInt8 {
        case metadata = 1
        case entry = 2
        case hardState = 3
        case snapshotMarker = 4
    }

    var kind: Kind {
        switch self {
        case .metadata: return .metadata
        case .entry: return .entry
        case .hardState: return .hardState
        case .snapshotMarker: return .snapshotMarker
        }
    }

    /// Size of the encoded payload (without the frame header).
    var payloadSize: Int {
        switch self {
        case .metadata(let bytes): return bytes.count
        case .entry(let e): return 17 + e.data.count
        case .hardState: return 24
        case .snapshotMarker: return 16
        }
    }

    /// Appends the payload (not the frame) to `buffer`, integers little-endian.
    func appendPayload(to buffer: inout [UInt8]) {
        switch self {
        case .metadata(let bytes):
            buffer.append(contentsOf: bytes)
        case .entry(let e):
            buffer.appendLE(e.term)
            buffer.appendLE(e.index)
            buffer.append(e.kind)
            buffer.append(contentsOf: e.data)
        case .hardState(let h):
            buffer.appendLE(h.term)
            buffer.appendLE(h.vote)
            buffer.appendLE(h.commit)
        case .snapshotMarker(let m):
            buffer.appendLE(m.index)
            buffer.appendLE(m.term)
        }
    }

    /// Decodes a payload whose checksum has already been verified. Returns nil if the payload does not
    /// have the shape its type requires, which (with a valid checksum) means a writer bug or a
    /// deliberate forgery: treated as corruption by the caller.
    static func decode(kind: Kind, payload: UnsafeRawBufferPointer) -> WALRecord? {
        switch kind {
        case .metadata:
            return .metadata(Array(payload))
        case .entry:
            guard payload.count >= 17 else { return nil }
            return .entry(
                WALEntry(
                    term: payload.loadLE(0), index: payload.loadLE(8), kind: payload[16],
                    data: Array(payload[17...])))
        case .hardState:
            guard payload.count == 24 else { return nil }
            return .hardState(
                WALHardState(term: payload.loadLE(0), vote: payload.loadLE(8), commit: payload.loadLE(16)))
        case .snapshotMarker:
            guard payload.count == 16 else { return nil }
            return .snapshotMarker(WALSnapshotMarker(index: payload.loadLE(0), term: payload.loadLE(8)))
        }
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadLE<T: FixedWidthInteger>(_ offset: Int, as: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
