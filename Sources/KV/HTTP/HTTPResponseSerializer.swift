import NIOCore
import NIOHTTP1

/// Turns a response into HTTP/1.x wire bytes in one buffer.
///
/// Why not NIO's `HTTPResponseEncoder`: a whole answer went out as three writes (head, body, end),
/// each travelling through the pipelining, error and encoder handlers, plus a response-head
/// allocation; that path was about 15 % of a PUT's CPU. Here a whole answer is one buffer and one
/// write. The framing rules are those of the encoder it replaces (NIO 2.101):
///
/// * statuses without a body (1xx, 204, 304) lose `Content-Length` and `Transfer-Encoding`;
/// * a response to `HEAD` keeps its framing headers (what a GET would have returned) but sends no
///   body bytes;
/// * a streamed body is chunked on HTTP/1.1 and sent raw on HTTP/1.0 (where the connection's end
///   frames it).
struct HTTPResponseSerializer {
    /// How the body that follows a head is framed.
    enum Framing: Equatable {
        /// Exactly `Content-Length` bytes (or none): nothing to add around them.
        case plain
        /// Chunked transfer coding: each chunk is framed, a zero chunk ends the body.
        case chunked
        /// No body may follow (HEAD request, or a status without a body): body bytes are dropped.
        case suppressed
    }

    /// Writes a whole response (status line, headers, `Content-Length` and body) into one buffer.
    /// `Connection: close` is added when the connection ends after it.
    static func whole(_ response: HTTPResponse, body: ByteBuffer, version: HTTPVersion, method: HTTPMethod,
                      keepAlive: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        let hasBody = response.status.mayHaveResponseBody
        var out = allocator.buffer(capacity: 128 + 40 * response.headers.count
                                       + (response.encodedHeaders?.readableBytes ?? 0) + body.readableBytes)
        writeStatusLine(response.status, version: version, into: &out)
        writeHeaders(response, into: &out)
        if !keepAlive { out.writeStaticString("Connection: close\r\n") }
        if hasBody {
            out.writeStaticString("Content-Length: ")
            out.writeString(String(body.readableBytes))
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        if method != .HEAD, body.readableBytes > 0 {
            var copy = body
            out.writeBuffer(&copy)
        }
        return out
    }

    /// Writes the head of a streamed response and says how its body chunks are to be framed.
    static func streamHead(_ response: HTTPResponse, version: HTTPVersion, method: HTTPMethod, keepAlive: Bool,
                           allocator: ByteBufferAllocator) -> (ByteBuffer, Framing) {
        let hasBody = response.status.mayHaveResponseBody
        let chunked = hasBody && version.major == 1 && version.minor >= 1
        var out = allocator.buffer(capacity: 128 + 40 * response.headers.count
                                       + (response.encodedHeaders?.readableBytes ?? 0))
        writeStatusLine(response.status, version: version, into: &out)
        writeHeaders(response, into: &out)
        if !keepAlive { out.writeStaticString("Connection: close\r\n") }
        // HTTP/1.0 keeps the header (as NIO's encoder did) but is not chunked: the close frames it.
        if hasBody { out.writeStaticString("Transfer-Encoding: chunked\r\n") }
        out.writeStaticString("\r\n")
        if method == .HEAD || !hasBody { return (out, .suppressed) }
        return (out, chunked ? .chunked : .plain)
    }

    /// One body chunk framed for `framing` (nil when nothing is to be sent).
    static func chunk(_ data: ByteBuffer, framing: Framing, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard data.readableBytes > 0 else { return nil }
        switch framing {
        case .suppressed: return nil
        case .plain: return data
        case .chunked:
            var out = allocator.buffer(capacity: data.readableBytes + 12)
            out.writeString(String(data.readableBytes, radix: 16))
            out.writeStaticString("\r\n")
            var copy = data
            out.writeBuffer(&copy)
            out.writeStaticString("\r\n")
            return out
        }
    }

    /// The end of a streamed body (the zero chunk when chunked).
    static func end(framing: Framing, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard framing == .chunked else { return nil }
        var out = allocator.buffer(capacity: 5)
        out.writeStaticString("0\r\n\r\n")
        return out
    }

    /// NIO's answer to a request it cannot parse, byte for byte as `HTTPServerProtocolErrorHandler`
    /// wrote it.
    static func badRequest(allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 80)
        out.writeStaticString("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        return out
    }

    private static func writeStatusLine(_ status: HTTPResponseStatus, version: HTTPVersion,
                                        into out: inout ByteBuffer) {
        if version.major == 1 && version.minor == 1 {
            out.writeStaticString("HTTP/1.1 ")
        } else if version.major == 1 && version.minor == 0 {
            out.writeStaticString("HTTP/1.0 ")
        } else {
            out.writeString("HTTP/\(version.major).\(version.minor) ")
        }
        out.writeString(String(status.code))
        out.writeStaticString(" ")
        out.writeString(status.reasonPhrase)
        out.writeStaticString("\r\n")
    }

    /// The responder's headers (its encoded block first), without the framing ones this
    /// serializer decides itself (`Content-Length`, `Transfer-Encoding`, `Connection`).
    private static func writeHeaders(_ response: HTTPResponse, into out: inout ByteBuffer) {
        if var block = response.encodedHeaders { out.writeBuffer(&block) }
        for (name, value) in response.headers where !isFramingHeader(name) {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
    }

    /// Whether `name` is one of the headers the serializer sets; cheap for the common names (the
    /// length decides before any comparison).
    static func isFramingHeader(_ name: String) -> Bool {
        switch name.utf8.count {
        case 10: return name.caseInsensitiveASCIIEquals("connection")
        case 14: return name.caseInsensitiveASCIIEquals("content-length")
        case 17: return name.caseInsensitiveASCIIEquals("transfer-encoding")
        default: return false
        }
    }
}

extension String {
    /// ASCII case-insensitive equality against a lowercase literal, without building strings.
    fileprivate func caseInsensitiveASCIIEquals(_ lowercase: StaticString) -> Bool {
        let other = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        guard utf8.count == other.count else { return false }
        for (a, b) in zip(utf8, other) where a != b && a | 0x20 != b { return false }
        return true
    }
}
