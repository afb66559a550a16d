/// Reads segment files record by record, applying the torn-versus-corrupt rules of ``RecordCodec``.
/// Shared by replay on open (which then truncates the torn tail) and ``WAL/records(in:options:)``.
enum WALScanner {
    /// Visits every valid record of the segment at `path` with its offset. Returns the torn tail if the
    /// segment ends in one (only possible when `isLast`); throws on any other invalid data.
    /// With `zeroTailIsFree` (a log with reserved space, see ``WAL/Options/preallocationChunk``),
    /// data that ends in zeros up to the end of the file ends cleanly there.
    static func scan(
        path: String, isLast: Bool, limit: Int, repair: Bool = false, zeroTailIsFree: Bool = false,
        visit: (WALRecord, Int) throws(WALError) -> Void
    ) throws(WALError) -> (end: Int, torn: WALTornTail?) {
        let bytes = try FileIO.readAll(path)
        return try FileIO.withRawBytes(bytes) { (raw) throws(WALError) -> (end: Int, torn: WALTornTail?) in
            var offset = 0
            while offset < raw.count {
                let decoded = RecordCodec.decode(raw, at: offset, limit: limit)
                switch decoded {
                case .record(let record, let size):
                    try visit(record, offset)
                    offset += size
                case .incomplete(let reason), .invalid(let reason, _):
                    if zeroTailIsFree && isAllZero(raw, from: offset) { return (offset, nil) }
                    let torn = isLast && RecordCodec.isTorn(raw, at: offset, decoded: decoded, limit: limit)
                    if torn || (isLast && repair) {
                        let torn = WALTornTail(
                            file: path, offset: offset, droppedBytes: raw.count - offset,
                            reason: torn ? reason : "not a torn write, truncated by repairTornTail: \(reason)")
                        return (offset, torn)
                    }
                    throw .corruptRecord(file: path, offset: offset, reason: reason)
                }
            }
            return (offset, nil)
        }
    }

    /// Whether every byte from `offset` to the end is zero (reserved, never written space).
    static func isAllZero(_ raw: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        var i = offset
        while i + 8 <= raw.count {
            if raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
        }
        while i < raw.count {
            if raw[i] != 0 { return false }
            i += 1
        }
        return true
    }
}

/// One record as stored, for inspection tools and tests.
public struct WALStoredRecord: Equatable, Sendable {
    public var file: String
    public var offset: Int
    public var record: WALRecord
}

extension WAL {
    /// Every valid record in `directory`, in log order, without folding overwrites and without taking
    /// the lock or modifying anything (a torn tail is skipped, not truncated). For `wal dump`-style
    /// tools and for tests that need to see records replay would supersede.
    public static func records(in directory: String, options: Options = Options()) throws(WALError) -> [WALStoredRecord]
    {
        let segments = try WALSegment.list(in: directory)
        var result: [WALStoredRecord] = []
        for (position, segment) in segments.enumerated() {
            let path = FileIO.join(directory, segment.fileName)
            _ = try WALScanner.scan(
                path: path, isLast: position == segments.count - 1, limit: options.maxRecordSize,
                zeroTailIsFree: options.preallocationChunk > 0
            ) {
                (record, offset) throws(WALError) in
                result.append(WALStoredRecord(file: path, offset: offset, record: record))
            }
        }
        return result
    }
}
