import NIOCore
import NIOHTTP1

/// A response: status, headers and a body that is either whole or streamed.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    /// Header lines already in wire form (`Name: value\r\n` each), sent before `headers`.
    ///
    /// Why: an API whose answers share most of their headers (every etcd `/v2/keys` answer has
    /// eight) can keep those lines encoded once and copy them as one block, instead of building an
    /// `HTTPHeaders` array and formatting it name by name for every request. Must not hold the
    /// framing headers (`Content-Length`, `Transfer-Encoding`, `Connection`): the server sets those.
    public var encodedHeaders: ByteBuffer?
    public var body: Body

    /// The body of a response.
    public enum Body: Sendable {
        /// The whole body at once; sent with Content-Length.
        case bytes(ByteBuffer)
        /// A body produced over time (watches, journal follow); sent chunked. The closure runs in a
        /// task that is cancelled when the client goes away; return to end the response.
        case stream(@Sendable (HTTPBodyWriter) async throws -> Void)
    }

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: Body = .bytes(ByteBuffer())) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a UTF-8 body and a content type.
    public init(status: HTTPResponseStatus, contentType: String, text: String, headers: HTTPHeaders = [:]) {
        var h = headers
        h.replaceOrAdd(name: "Content-Type", value: contentType)
        self.init(status: status, headers: h, body: .bytes(ByteBuffer(string: text)))
    }
}

/// Writes the parts of a streamed body. Safe to use from any task.
public struct HTTPBodyWriter: Sendable {
    let channel: Channel

    public init(channel: Channel) { self.channel = channel }

    /// Writes and flushes one chunk; throws once the client has gone.
    public func write(_ buffer: ByteBuffer) async throws {
        guard buffer.readableBytes > 0 else { return }
        try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer))).get()
    }

    public func write(_ text: String) async throws { try await write(ByteBuffer(string: text)) }

    /// Queues the final chunk without flushing or waiting: the end of the response, written when
    /// the producer returns, flushes both at once. One-shot answers (a long-poll watch's single
    /// event) so cost one send and no round trip to the event loop.
    public func writeLast(_ text: String) {
        guard !text.isEmpty else { return }
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text))), promise: nil)
    }

    /// Completes when the client closes the connection (useful to end a long-poll early).
    public var clientClosed: EventLoopFuture<Void> { channel.closeFuture }
}
