/// Binary form of Raft messages between members (one peer frame per message) and of snapshot
/// metadata in snapshot files.
///
/// Versioned and little-endian; a frame that does not decode is dropped by the receiver (Raft
/// tolerates lost messages), never half-applied.
public enum RaftWireCodec {
    static let version: UInt8 = 1

    public static func encode(_ m: Message) -> [UInt8] {
        var w = ByteWriter()
        w.u8(version)
        w.u8(m.kind.rawValue)
        w.u64(m.from)
        w.u64(m.to)
        w.u64(m.term)
        w.u64(m.logTerm)
        w.u64(m.index)
        w.u64(m.commit)
        w.bool(m.reject)
        w.u64(m.rejectHint)
        w.bool(m.isTransfer)
        w.blob(m.context)
        w.u64(UInt64(m.entries.count))
        for e in m.entries { encode(e, into: &w) }
        w.bool(m.snapshot != nil)
        if let s = m.snapshot {
            encode(s.metadata, into: &w)
            w.blob(s.data)
        }
        return w.bytes
    }

    public static func decodeMessage(_ bytes: [UInt8]) throws(StoreDecodingError) -> Message {
        var r = ByteReader(bytes)
        let v = try r.u8()
        guard v == version else { throw .unsupportedVersion(v) }
        let k = try r.u8()
        guard let kind = MessageKind(rawValue: k) else { throw .badTag(k) }
        var m = Message(kind: kind)
        m.from = try r.u64()
        m.to = try r.u64()
        m.term = try r.u64()
        m.logTerm = try r.u64()
        m.index = try r.u64()
        m.commit = try r.u64()
        m.reject = try r.bool()
        m.rejectHint = try r.u64()
        m.isTransfer = try r.bool()
        m.context = try r.blob()
        let n = try r.u64()
        guard n <= UInt64(bytes.count) else { throw .truncated }
        m.entries.reserveCapacity(Int(n))
        for _ in 0..<n { m.entries.append(try decodeEntry(&r)) }
        if try r.bool() {
            let meta = try decodeMetadata(&r)
            m.snapshot = Snapshot(metadata: meta, data: try r.blob())
        }
        guard r.atEnd else { throw .invalid("trailing bytes in Raft message") }
        return m
    }

    static func encode(_ e: Entry, into w: inout ByteWriter) {
        w.u64(e.term)
        w.u64(e.index)
        w.u8(e.kind.rawValue)
        w.blob(e.data)
    }

    static func decodeEntry(_ r: inout ByteReader) throws(StoreDecodingError) -> Entry {
        let term = try r.u64()
        let index = try r.u64()
        let k = try r.u8()
        guard let kind = EntryKind(rawValue: k) else { throw .badTag(k) }
        return Entry(term: term, index: index, kind: kind, data: try r.blob())
    }

    public static func encode(_ meta: SnapshotMetadata) -> [UInt8] {
        var w = ByteWriter()
        encode(meta, into: &w)
        return w.bytes
    }

    public static func decodeMetadata(_ bytes: [UInt8]) throws(StoreDecodingError) -> SnapshotMetadata {
        var r = ByteReader(bytes)
        let meta = try decodeMetadata(&r)
        guard r.atEnd else { throw .invalid("trailing bytes in snapshot metadata") }
        return meta
    }

    static func encode(_ meta: SnapshotMetadata, into w: inout ByteWriter) {
        w.u64(meta.index)
        w.u64(meta.term)
        let voters = meta.membership.voters.sorted()
        let learners = meta.membership.learners.sorted()
        w.u64(UInt64(voters.count))
        for v in voters { w.u64(v) }
        w.u64(UInt64(learners.count))
        for l in learners { w.u64(l) }
    }

    static func decodeMetadata(_ r: inout ByteReader) throws(StoreDecodingError) -> SnapshotMetadata {
        let index = try r.u64()
        let term = try r.u64()
        var membership = Membership()
        let nv = try r.u64()
        guard nv < 1 << 16 else { throw .invalid("too many voters") }
        for _ in 0..<nv { membership.voters.insert(try r.u64()) }
        let nl = try r.u64()
        guard nl < 1 << 16 else { throw .invalid("too many learners") }
        for _ in 0..<nl { membership.learners.insert(try r.u64()) }
        return SnapshotMetadata(index: index, term: term, membership: membership)
    }
}
