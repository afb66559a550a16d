/// gzip (RFC 1952) and DEFLATE (RFC 1951) decompression in plain Swift.
///
/// Why not zlib: the toolchain ships no `zlib` Swift module (`import zlib` fails), and binding the
/// system's libz needs a `systemLibrary` target, i.e. a package-manifest change and a `zlib1g-dev`
/// build dependency, for decoding a few kilobytes of user-data. Foundation on Linux links libz
/// internally but exposes no gunzip API. A ~200-line decoder has no such cost; it checks the CRC-32
/// and length trailer and caps the output, so a corrupt or hostile file is refused, not trusted.
public enum Gzip {
    /// Why data could not be decompressed.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "gzip: \(reason)" }
    }

    /// Largest output accepted (user-data files are small; this stops decompression bombs).
    public static let maximumOutput = 64 << 20

    /// Decompresses one or more concatenated gzip members.
    public static func decompress(_ data: [UInt8]) throws(Failure) -> [UInt8] {
        var output: [UInt8] = []
        var position = 0
        repeat {
            position = try member(data, at: position, into: &output)
        } while position < data.count && data[position] == 0x1f
        return output
    }

    private static func member(_ data: [UInt8], at start: Int, into output: inout [UInt8]) throws(Failure) -> Int {
        guard data.count - start >= 18, data[start] == 0x1f, data[start + 1] == 0x8b else {
            throw Failure(reason: "not gzip data (bad magic or too short)")
        }
        guard data[start + 2] == 8 else { throw Failure(reason: "unsupported compression method \(data[start + 2])") }
        let flags = data[start + 3]
        var p = start + 10
        func need(_ n: Int) throws(Failure) {
            if p + n > data.count { throw Failure(reason: "truncated header") }
        }
        if flags & 0x04 != 0 {
            try need(2)
            let extra = Int(data[p]) | Int(data[p + 1]) << 8
            p += 2
            try need(extra)
            p += extra
        }
        for bit: UInt8 in [0x08, 0x10] where flags & bit != 0 {
            while true {
                try need(1)
                p += 1
                if data[p - 1] == 0 { break }
            }
        }
        if flags & 0x02 != 0 { try need(2); p += 2 }
        let before = output.count
        var reader = GzipBitReader(data: data, position: p)
        try GzipInflater.inflate(&reader, into: &output)
        p = reader.position
        guard p + 8 <= data.count else { throw Failure(reason: "truncated trailer") }
        let crc = UInt32(data[p]) | UInt32(data[p + 1]) << 8 | UInt32(data[p + 2]) << 16 | UInt32(data[p + 3]) << 24
        let size = UInt32(data[p + 4]) | UInt32(data[p + 5]) << 8 | UInt32(data[p + 6]) << 16 | UInt32(data[p + 7]) << 24
        let produced = output[before...]
        guard GzipCRC32.checksum(produced) == crc else { throw Failure(reason: "CRC-32 mismatch (corrupt data)") }
        guard UInt32(truncatingIfNeeded: produced.count) == size else { throw Failure(reason: "length mismatch (corrupt data)") }
        return p + 8
    }
}

/// Reads DEFLATE's little-endian bit stream.
struct GzipBitReader {
    let data: [UInt8]
    var position: Int
    var buffer: UInt32 = 0
    var count = 0

    init(data: [UInt8], position: Int) {
        self.data = data
        self.position = position
    }

    mutating func bits(_ n: Int) throws(Gzip.Failure) -> Int {
        while count < n {
            guard position < data.count else { throw Gzip.Failure(reason: "unexpected end of compressed data") }
            buffer |= UInt32(data[position]) << UInt32(count)
            position += 1
            count += 8
        }
        let value = Int(buffer & ((1 << UInt32(n)) - 1))
        buffer >>= UInt32(n)
        count -= n
        return value
    }

    /// Drops the rest of the current byte (fewer than 8 bits are ever buffered after a read).
    mutating func alignToByte() {
        buffer = 0
        count = 0
    }
}

/// A canonical Huffman code as DEFLATE defines it: code lengths determine the codes.
struct GzipHuffman {
    var counts = [Int](repeating: 0, count: 16)
    var symbols: [Int]

    init(lengths: [Int]) throws(Gzip.Failure) {
        for length in lengths { counts[length] += 1 }
        var offsets = [Int](repeating: 0, count: 16)
        for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
        symbols = [Int](repeating: 0, count: lengths.count)
        for (symbol, length) in lengths.enumerated() where length != 0 {
            symbols[offsets[length]] = symbol
            offsets[length] += 1
        }
        var left = 1
        for length in 1...15 {
            left <<= 1
            left -= counts[length]
            if left < 0 { throw Gzip.Failure(reason: "invalid Huffman code (over-subscribed)") }
        }
    }

    func decode(_ reader: inout GzipBitReader) throws(Gzip.Failure) -> Int {
        var code = 0, first = 0, index = 0
        for length in 1...15 {
            code |= try reader.bits(1)
            let count = counts[length]
            if code - count < first { return symbols[index + (code - first)] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw Gzip.Failure(reason: "invalid Huffman code")
    }
}

enum GzipInflater {
    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                             131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                               2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
                                13, 13]
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static func inflate(_ reader: inout GzipBitReader, into output: inout [UInt8]) throws(Gzip.Failure) {
        let start = output.count
        var last = false
        while !last {
            last = try reader.bits(1) == 1
            switch try reader.bits(2) {
            case 0: try stored(&reader, into: &output)
            case 1:
                let lit = try GzipHuffman(lengths: [Int](repeating: 8, count: 144) + [Int](repeating: 9, count: 112)
                    + [Int](repeating: 7, count: 24) + [Int](repeating: 8, count: 8))
                let dist = try GzipHuffman(lengths: [Int](repeating: 5, count: 30))
                try codes(&reader, lit, dist, into: &output, start: start)
            case 2:
                let (lit, dist) = try dynamicTables(&reader)
                try codes(&reader, lit, dist, into: &output, start: start)
            default: throw Gzip.Failure(reason: "invalid block type")
            }
        }
        reader.alignToByte()
    }

    static func stored(_ reader: inout GzipBitReader, into output: inout [UInt8]) throws(Gzip.Failure) {
        reader.alignToByte()
        let p = reader.position
        guard p + 4 <= reader.data.count else { throw Gzip.Failure(reason: "truncated stored block") }
        let length = Int(reader.data[p]) | Int(reader.data[p + 1]) << 8
        let check = Int(reader.data[p + 2]) | Int(reader.data[p + 3]) << 8
        guard length == (~check & 0xffff) else { throw Gzip.Failure(reason: "stored block length check failed") }
        guard p + 4 + length <= reader.data.count else { throw Gzip.Failure(reason: "truncated stored block") }
        output.append(contentsOf: reader.data[(p + 4)..<(p + 4 + length)])
        reader.position = p + 4 + length
    }

    static func dynamicTables(_ reader: inout GzipBitReader) throws(Gzip.Failure) -> (GzipHuffman, GzipHuffman) {
        let literalCount = try reader.bits(5) + 257
        let distanceCount = try reader.bits(5) + 1
        let codeLengthCount = try reader.bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw Gzip.Failure(reason: "bad table counts") }
        var codeLengths = [Int](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengths[codeLengthOrder[i]] = try reader.bits(3) }
        let lengthCode = try GzipHuffman(lengths: codeLengths)
        var lengths: [Int] = []
        while lengths.count < literalCount + distanceCount {
            let symbol = try lengthCode.decode(&reader)
            switch symbol {
            case 0..<16: lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw Gzip.Failure(reason: "repeat with no previous length") }
                lengths += [Int](repeating: previous, count: 3 + (try reader.bits(2)))
            case 17: lengths += [Int](repeating: 0, count: 3 + (try reader.bits(3)))
            default: lengths += [Int](repeating: 0, count: 11 + (try reader.bits(7)))
            }
        }
        guard lengths.count == literalCount + distanceCount else { throw Gzip.Failure(reason: "too many code lengths") }
        return (try GzipHuffman(lengths: Array(lengths[0..<literalCount])),
                try GzipHuffman(lengths: Array(lengths[literalCount...])))
    }

    static func codes(_ reader: inout GzipBitReader, _ lit: GzipHuffman, _ dist: GzipHuffman, into output: inout [UInt8], start: Int) throws(Gzip.Failure) {
        while true {
            let symbol = try lit.decode(&reader)
            if symbol < 256 {
                output.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let index = symbol - 257
                guard index < 29 else { throw Gzip.Failure(reason: "invalid length symbol") }
                let length = lengthBase[index] + (try reader.bits(lengthExtra[index]))
                let dsym = try dist.decode(&reader)
                guard dsym < 30 else { throw Gzip.Failure(reason: "invalid distance symbol") }
                let distance = distanceBase[dsym] + (try reader.bits(distanceExtra[dsym]))
                guard distance <= output.count - start else { throw Gzip.Failure(reason: "distance too far back") }
                for _ in 0..<length { output.append(output[output.count - distance]) }
            }
            if output.count - start > Gzip.maximumOutput { throw Gzip.Failure(reason: "output larger than \(Gzip.maximumOutput) bytes") }
        }
    }
}

/// CRC-32 (IEEE, reflected 0xEDB88320) as used by gzip.
enum GzipCRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xffff_ffff
    }
}
