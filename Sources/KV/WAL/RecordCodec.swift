/// The on-disk frame of one WAL record, and the rules that tell a torn write from corruption.
///
/// Frame (little-endian), 12-byte header then payload:
///
///     0..<4   payload length (UInt32)
///     4       record type (1...4; 0 is never written, so zero-filled space never parses)
///     5..<8   reserved, must be zero
///     8..<12  CRC-32C over bytes 0..<8 of the header followed by the payload
///
/// The checksum covers the length and type as well as the payload, so a flipped length or type bit is
/// detected rather than misparsed.
enum RecordCodec {
    static let headerSize = 12
    /// The unit a disk persists atomically; a torn write loses whole sectors, which therefore read back
    /// as zeros (the file never held other data there: segments are append-only and never reused).
    static let sectorSize = 512

    /// Appends one framed record to `buffer`.
    static func append(_ record: WALRecord, to buffer: inout [UInt8], limit: Int) throws(WALError) {
        let size = record.payloadSize
        guard size <= limit else { throw .recordTooLarge(size: size, limit: limit) }
        let start = buffer.count
        buffer.reserveCapacity(start + headerSize + size)
        buffer.appendLE(UInt32(size))
        buffer.append(record.kind.rawValue)
        buffer.append(contentsOf: [0, 0, 0])
        buffer.appendLE(UInt32(0))  // checksum, patched below
        record.appendPayload(to: &buffer)
        let crc = buffer.withUnsafeBytes { raw -> UInt32 in
            let header = UnsafeRawBufferPointer(rebasing: raw[start..<(start + 8)])
            let payload = UnsafeRawBufferPointer(rebasing: raw[(start + headerSize)...])
            return CRC32C.update(CRC32C.checksum(header), payload)
        }
        buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: crc.littleEndian, toByteOffset: start + 8, as: UInt32.self)
        }
    }

    /// What one attempt to read a frame found.
    enum Decoded {
        /// A valid record occupying `size` bytes.
        case record(WALRecord, size: Int)
        /// The frame runs past the end of the data: the shape of a write cut short.
        case incomplete(reason: String)
        /// A complete frame that fails validation; `size` is the frame size if the header is plausible.
        case invalid(reason: String, size: Int?)
    }

    /// Reads the frame at `offset`; `offset` must be below `bytes.count`.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, limit: Int) -> Decoded {
        let remaining = bytes.count - offset
        guard remaining >= headerSize else {
            return .incomplete(reason: "record header cut short (\(remaining) of \(headerSize) bytes present)")
        }
        let length = Int(bytes.loadLE(offset, as: UInt32.self))
        let typeByte = bytes[offset + 4]
        let reservedNonZero = bytes[offset + 5] | bytes[offset + 6] | bytes[offset + 7] != 0
        let stored: UInt32 = bytes.loadLE(offset + 8)
        if length == 0 && typeByte == 0 && !reservedNonZero && stored == 0 {
            return .invalid(reason: "zero-filled record header", size: nil)
        }
        guard let kind = WALRecord.Kind(rawValue: typeByte) else {
            return .invalid(reason: "unknown record type \(typeByte)", size: nil)
        }
        guard !reservedNonZero else { return .invalid(reason: "reserved header bytes are not zero", size: nil) }
        guard length <= limit else {
            return .invalid(reason: "record length \(length) exceeds the limit of \(limit)", size: nil)
        }
        guard headerSize + length <= remaining else {
            return .incomplete(
                reason: "record of \(headerSize + length) bytes runs past the end of the file "
                    + "(\(remaining) bytes present)")
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 8)])
        let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + headerSize)..<(offset + headerSize + length)])
        let computed = CRC32C.update(CRC32C.checksum(header), payload)
        guard computed == stored else {
            return .invalid(
                reason: "checksum mismatch (stored 0x\(String(stored, radix: 16)), "
                    + "computed 0x\(String(computed, radix: 16)))",
                size: headerSize + length)
        }
        guard let record = WALRecord.decode(kind: kind, payload: payload) else {
            return .invalid(reason: "malformed \(kind) payload of \(length) bytes", size: headerSize + length)
        }
        return .record(record, size: headerSize + length)
    }

    /// Whether the failed frame at `offset` (of `size` bytes if known) looks like a write that never
    /// fully reached the disk, as opposed to data that reached it and later went bad.
    ///
    /// Only called for the last segment: every other segment was fsynced before its successor was
    /// created, so nothing in it can be torn. A torn frame must be the end of the data: if any valid
    /// record follows it, that record may have been acknowledged, so the failure is corruption (a damaged
    /// length field, a flipped byte, a sector lost by the device) and replay stops rather than drop it.
    /// Beyond that:
    /// - a frame that runs past the end of the file is torn (a write cut short);
    /// - a complete frame that fails validation is torn only if some sector-aligned part of it is all
    ///   zeros (a sector of the last write that never reached the disk); a bad checksum over bytes that
    ///   were all written is corruption, even at the very end.
    ///
    /// The price of this caution: after a power loss that persisted a later page of the final write but
    /// not an earlier one, replay refuses to start; ``WAL/Options/repairTornTail`` is the operator's way
    /// out, with the loss reported.
    static func isTorn(_ bytes: UnsafeRawBufferPointer, at offset: Int, decoded: Decoded, limit: Int) -> Bool {
        switch decoded {
        case .record:
            return false
        case .incomplete:
            return firstValidRecord(in: bytes, after: offset, limit: limit) == nil
        case .invalid(_, let size):
            let end = min(bytes.count, offset + (size ?? headerSize))
            return containsZeroSector(bytes, from: offset, to: end)
                && firstValidRecord(in: bytes, after: offset, limit: limit) == nil
        }
    }

    /// The offset of the first complete valid record starting after `offset`, if any.
    static func firstValidRecord(in bytes: UnsafeRawBufferPointer, after offset: Int, limit: Int) -> Int? {
        var q = offset + 1
        while q + headerSize <= bytes.count {
            // Cheap header screen before paying for a checksum.
            if WALRecord.Kind(rawValue: bytes[q + 4]) != nil, bytes[q + 5] | bytes[q + 6] | bytes[q + 7] == 0 {
                if case .record = decode(bytes, at: q, limit: limit) { return q }
            }
            q += 1
        }
        return nil
    }

    /// Whether any piece of `from..<to`, split at sector boundaries of the file, is entirely zero.
    static func containsZeroSector(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        var start = from
        while start < to {
            let chunkEnd = min(to, (start / sectorSize + 1) * sectorSize)
            var allZero = true
            for i in start..<chunkEnd where bytes[i] != 0 {
                allZero = false
                break
            }
            if allZero { return true }
            start = chunkEnd
        }
        return false
    }
}
