import NIOCore

/// Finds the ends of HTTP/1.1 responses in a byte stream and reports each one's status code.
///
/// The load generator only needs to know when a response is complete and whether it succeeded,
/// so this reads the status line, `Content-Length` and `Transfer-Encoding: chunked`, and skips
/// everything else (no header dictionary, no body copies). Bytes of an unfinished response are
/// kept until the next read.
struct HTTPResponseScanner {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    private enum State {
        case head
        case body(status: Int, remaining: Int)
        case chunkSize(status: Int)
        case chunkData(status: Int, remaining: Int)
        case trailers(status: Int)
    }

    private var state = State.head
    private var pending = ByteBuffer()

    /// The status of the next complete response in `pending` + `bytes`, consuming it; nil when
    /// more bytes are needed.
    mutating func next(_ bytes: inout ByteBuffer) throws -> Int? {
        if bytes.readableBytes > 0 {
            if pending.readableBytes == 0 {
                pending = bytes
            } else {
                pending.writeBuffer(&bytes)
            }
            bytes.moveReaderIndex(to: bytes.writerIndex)
        }
        while true {
            switch state {
            case .head:
                guard let (status, length, chunked) = try scanHead() else { return nil }
                if chunked {
                    state = .chunkSize(status: status)
                } else if length > 0 {
                    state = .body(status: status, remaining: length)
                } else {
                    return status
                }
            case .body(let status, let remaining):
                let n = min(remaining, pending.readableBytes)
                pending.moveReaderIndex(forwardBy: n)
                if n == remaining {
                    state = .head
                    return status
                }
                state = .body(status: status, remaining: remaining - n)
                return nil
            case .chunkSize(let status):
                guard let line = takeLine() else { return nil }
                let hex = line.prefix { $0 != UInt8(ascii: ";") }
                guard let size = Int(String(decoding: hex, as: UTF8.self).trimmingSpaces, radix: 16), size >= 0 else {
                    throw Malformed(description: "bad chunk size line '\(String(decoding: line, as: UTF8.self))'")
                }
                // Each chunk's data is followed by CRLF.
                state = size == 0 ? .trailers(status: status) : .chunkData(status: status, remaining: size + 2)
            case .chunkData(let status, let remaining):
                let n = min(remaining, pending.readableBytes)
                pending.moveReaderIndex(forwardBy: n)
                guard n == remaining else {
                    state = .chunkData(status: status, remaining: remaining - n)
                    return nil
                }
                state = .chunkSize(status: status)
            case .trailers(let status):
                guard let line = takeLine() else { return nil }
                if line.isEmpty {
                    state = .head
                    return status
                }
            }
        }
    }

    /// One CRLF-terminated line (without the CRLF), consumed; nil when it is not complete yet.
    private mutating func takeLine() -> [UInt8]? {
        let found: Int? = pending.withUnsafeReadableBytes { raw in
            guard raw.count >= 2 else { return nil }
            for i in 0..<(raw.count - 1) where raw[i] == 13 && raw[i + 1] == 10 { return i }
            return nil
        }
        guard let end = found else { return nil }
        let line = pending.readBytes(length: end) ?? []
        pending.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// Status, Content-Length and chunkedness of a complete head at the front of `pending`,
    /// consumed; nil when the head has not fully arrived.
    private mutating func scanHead() throws -> (Int, Int, Bool)? {
        let result: Result<(Int, Int, Bool, Int), Malformed>? = pending.withUnsafeReadableBytes { raw in
            guard raw.count >= 4 else { return nil }
            var end = -1
            for i in 0...(raw.count - 4)
            where raw[i] == 13 && raw[i + 1] == 10 && raw[i + 2] == 13 && raw[i + 3] == 10 {
                end = i
                break
            }
            guard end >= 0 else { return nil }
            // "HTTP/1.x NNN ..."
            guard end >= 12, raw[0] == UInt8(ascii: "H"), raw[8] == UInt8(ascii: " ") else {
                return .failure(Malformed(description: "not an HTTP/1.x status line"))
            }
            var status = 0
            for i in 9..<12 {
                let d = Int(raw[i]) - 48
                guard (0...9).contains(d) else { return .failure(Malformed(description: "bad status code")) }
                status = status * 10 + d
            }
            var length = 0, chunked = false
            var lineStart = 0
            while lineStart < end {
                var lineEnd = lineStart
                while lineEnd < end && raw[lineEnd] != 13 { lineEnd += 1 }
                let line = UnsafeRawBufferPointer(rebasing: raw[lineStart..<lineEnd])
                if let value = Self.value(of: "content-length", in: line) {
                    var n = 0
                    for b in value where b != 32 {
                        let d = Int(b) - 48
                        guard (0...9).contains(d) else { return .failure(Malformed(description: "bad Content-Length")) }
                        n = n * 10 + d
                    }
                    length = n
                } else if let value = Self.value(of: "transfer-encoding", in: line) {
                    chunked = String(decoding: value, as: UTF8.self).lowercased().contains("chunked")
                }
                lineStart = lineEnd + 2
            }
            // 1xx, 204 and 304 answers have no body whatever the headers say.
            if status < 200 || status == 204 || status == 304 { length = 0; chunked = false }
            return .success((status, length, chunked, end + 4))
        }
        switch result {
        case nil: return nil
        case .failure(let error)?: throw error
        case .success(let (status, length, chunked, headLength))?:
            pending.moveReaderIndex(forwardBy: headLength)
            return (status, length, chunked)
        }
    }

    /// The bytes after `name:` when `line` is that header (name compared without case).
    private static func value(of name: StaticString, in line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer.SubSequence? {
        let n = name.utf8CodeUnitCount
        guard line.count > n, line[n] == UInt8(ascii: ":") else { return nil }
        let p = name.utf8Start
        for i in 0..<n where line[i] | 0x20 != p[i] { return nil }
        return line[(n + 1)...]
    }
}

private extension String {
    var trimmingSpaces: Substring {
        var s = self[...]
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
