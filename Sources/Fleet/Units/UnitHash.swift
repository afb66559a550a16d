/// The content address of a unit: SHA-1 of its canonical serialisation (``UnitFile/serialized``).
///
/// fleet hashes the *re-serialised* options, not the uploaded bytes, so two files differing only in
/// comments or blank lines share one hash (and one `unit/<sha1>` blob). Instances of a template share
/// the template's hash. The registry stores it two ways: hex in `unit/<hex>` and `states/…` JSON, and
/// as a JSON array of 20 byte values in `job/<unit>/object`; ``UnitHash`` encodes as the array.
public struct UnitHash: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The 20 digest bytes.
    public let bytes: [UInt8]

    /// Wraps a 20-byte digest; returns nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 20 else { return nil }
        self.bytes = bytes
    }

    /// Parses 40 hex digits (either case); nil otherwise.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 40 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        var i = 0
        while i < 40 {
            guard let hi = Self.nibble(utf8[i]), let lo = Self.nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self.bytes = out
    }

    /// Hash of arbitrary text (the unit's canonical serialisation).
    public init(of text: String) {
        self.bytes = SHA1.hash(text)
    }

    /// 40 lowercase hex digits, as in `unit/<hex>` keys and `fleetctl list-unit-files --full`.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The 7-digit abbreviation fleetctl prints in its HASH column.
    public var short: String { String(hex.prefix(7)) }

    public var description: String { hex }

    public static func < (lhs: UnitHash, rhs: UnitHash) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    /// Decodes fleet's JSON array of 20 byte values.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let hexString = try? container.decode(String.self), let parsed = UnitHash(hex: hexString) {
            self = parsed
            return
        }
        let values = try container.decode([UInt8].self)
        guard let hash = UnitHash(bytes: values) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unit hash must have 20 bytes, got \(values.count)")
        }
        self = hash
    }

    /// Encodes as fleet does in `job/<unit>/object`: a JSON array of 20 numbers.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
