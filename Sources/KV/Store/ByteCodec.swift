/// Minimal little-endian binary writer/reader for commands and snapshots.
///
/// Hand-rolled (no Foundation, no Codable) so the bytes are fully determined by the data: two members
/// with the same state produce identical snapshots and hashes.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func u64(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func string(_ s: String) {
        let u = s.utf8
        u64(UInt64(u.count))
        bytes.append(contentsOf: u)
    }
    mutating func optI64(_ v: Int64?) {
        bool(v != nil)
        if let v { i64(v) }
    }
    mutating func optU64(_ v: UInt64?) {
        bool(v != nil)
        if let v { u64(v) }
    }
    mutating func optString(_ v: String?) {
        bool(v != nil)
        if let v { string(v) }
    }
}

/// Errors decoding a command or snapshot: the bytes were truncated, corrupt or of another version.
public enum StoreDecodingError: Error, Sendable, Hashable {
    case truncated
    case badMagic
    case unsupportedVersion(UInt8)
    case badTag(UInt8)
    case invalid(String)
}

struct ByteReader {
    let bytes: [UInt8]
    var pos = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { pos == bytes.count }

    mutating func u8() throws(StoreDecodingError) -> UInt8 {
        guard pos < bytes.count else { throw .truncated }
        defer { pos += 1 }
        return bytes[pos]
    }
    mutating func bool() throws(StoreDecodingError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let t: throw .badTag(t)
        }
    }
    mutating func u64() throws(StoreDecodingError) -> UInt64 {
        guard bytes.count - pos >= 8 else { throw .truncated }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
        pos += 8
        return v
    }
    mutating func i64() throws(StoreDecodingError) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func string() throws(StoreDecodingError) -> String {
        let n = try u64()
        guard n <= UInt64(bytes.count - pos) else { throw .truncated }
        let s = String(decoding: bytes[pos..<pos + Int(n)], as: UTF8.self)
        pos += Int(n)
        return s
    }
    mutating func optI64() throws(StoreDecodingError) -> Int64? { try bool() ? try i64() : nil }
    mutating func optU64() throws(StoreDecodingError) -> UInt64? { try bool() ? try u64() : nil }
    mutating func optString() throws(StoreDecodingError) -> String? { try bool() ? try string() : nil }
}

/// 64-bit FNV-1a, used for `Store.hash()` divergence checks (not cryptographic).
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h
}
