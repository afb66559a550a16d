/// Identity of one segment file: `<sequence>-<first index>.wal`, both as 16 hex digits.
///
/// The sequence orders the files and exposes a missing one; the first index is one past the last
/// entry index appended before the segment was created, so every live entry in segment `k` is below the
/// first index of segment `k + 1`. ``WAL/releaseBefore(_:)`` relies on exactly that.
struct WALSegment: Comparable, Sendable {
    var sequence: UInt64
    var firstIndex: UInt64

    var fileName: String { "\(FileIO.hex16(sequence))-\(FileIO.hex16(firstIndex)).wal" }

    static func < (a: WALSegment, b: WALSegment) -> Bool { a.sequence < b.sequence }

    /// Parses a segment file name; nil if `name` is not of the form `<16 hex>-<16 hex>.wal`.
    static func parse(_ name: String) -> WALSegment? {
        guard name.hasSuffix(".wal") else { return nil }
        let stem = name.dropLast(4)
        let parts = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16, parts[1].count == 16,
            let sequence = UInt64(parts[0], radix: 16), let first = UInt64(parts[1], radix: 16)
        else { return nil }
        return WALSegment(sequence: sequence, firstIndex: first)
    }

    /// The segments in `directory`, in sequence order, checked for gaps.
    static func list(in directory: String) throws(WALError) -> [WALSegment] {
        var segments: [WALSegment] = []
        for name in try FileIO.list(directory) where name.hasSuffix(".wal") {
            guard let segment = parse(name) else { throw .invalidSegmentName(file: FileIO.join(directory, name)) }
            segments.append(segment)
        }
        segments.sort()
        for (a, b) in zip(segments, segments.dropFirst()) where b.sequence != a.sequence + 1 {
            throw .missingSegment(directory: directory, expectedSequence: a.sequence + 1, found: b.fileName)
        }
        return segments
    }
}
