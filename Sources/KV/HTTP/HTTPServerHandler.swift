import NIOCore
import NIOHTTP1

/// Serves one connection: collects a request, hands it to the responder and writes the answer.
///
/// It also does what NIO's pipelining, protocol-error and response-encoder handlers did, so that a
/// whole answer is one buffer written and flushed once (`HTTPResponseSerializer`) instead of three
/// writes through three handlers:
///
/// * **Pipelining.** One request is answered at a time. Request parts that arrive while an answer
///   is pending are queued and replayed when it ends, and reads from the socket are held back
///   meanwhile (as `HTTPServerPipelineHandler` did).
/// * **Malformed requests.** A parse error from NIO's decoder gets the same `400 Bad Request` and
///   `Connection: close` NIO's error handler sent, after any answer in progress, and the
///   connection closes.
/// * **Streamed bodies.** `HTTPBodyWriter` writes `HTTPServerResponsePart.body` into the channel;
///   this handler frames those chunks (chunked on HTTP/1.1). A request body the responder takes
///   as a stream (`HTTPResponder.streamRequest`) goes to its consumer part by part, unbounded by
///   the body limit, and is answered when it ends.
final class HTTPServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = ByteBuffer

    private let responder: any HTTPResponder
    private let maxBodySize: Int
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var oversized = false
    /// Takes the body of the current request as it arrives (`HTTPRequestStream.accept`).
    private var streamConsumer: (any HTTPRequestBodyConsumer)?
    /// A request has ended and its answer has not: later request parts wait in `queued`.
    private var answering = false
    /// Request parts and parse errors that arrived while `answering`, in order.
    private var queued = CircularBuffer<Queued>(initialCapacity: 0)
    /// Replaying `queued` (so that an answer given at once does not replay recursively).
    private var replaying = false
    /// A `read` asked for while answering, issued when the answer ends.
    private var readPending = false
    /// The connection is closing after the current answer: later requests are dropped.
    private var closing = false
    /// How the chunks of the streamed answer in progress are framed.
    private var streamFraming = HTTPResponseSerializer.Framing.suppressed
    /// The task answering or streaming the current request; cancelled if the client goes away.
    private var inFlight: Task<Void, Never>?
    /// Where those tasks run: this connection's event loop (see `EventLoopTaskExecutor`).
    private var executor: EventLoopTaskExecutor?
    /// The peer's address as text, looked up once per connection: asking the channel costs a
    /// `getpeername` call and a formatted string, a few percent of a GET's CPU if done per request.
    private var remoteAddress: String??

    private enum Queued {
        case part(HTTPServerRequestPart)
        case parseError(any Error)
    }

    init(responder: any HTTPResponder, maxBodySize: Int) {
        self.responder = responder
        self.maxBodySize = maxBodySize
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let part = unwrapInboundIn(data)
        if answering || !queued.isEmpty {
            queued.append(.part(part))
            return
        }
        handle(part, context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard error is HTTPParserError else {
            context.close(promise: nil)
            return
        }
        if answering {
            queued.append(.parseError(error))
            return
        }
        refuseMalformed(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        streamConsumer = nil
        inFlight?.cancel()
        inFlight = nil
        queued.removeAll()
        context.fireChannelInactive()
    }

    // MARK: outbound

    func read(context: ChannelHandlerContext) {
        if answering { readPending = true } else { context.read() }
    }

    /// Body chunks of a streamed answer, from `HTTPBodyWriter`.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .body(.byteBuffer(let buffer)):
            if let framed = HTTPResponseSerializer.chunk(buffer, framing: streamFraming,
                                                         allocator: context.channel.allocator) {
                context.write(wrapOutboundOut(framed), promise: promise)
            } else {
                promise?.succeed()
            }
        case .body(.fileRegion):
            promise?.fail(HTTPBodyWriteError.fileRegionNotSupported)
        case .head, .end:
            promise?.fail(HTTPBodyWriteError.notABodyPart)
        }
    }

    // MARK: requests

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let h):
            head = h
            body = nil
            oversized = false
            if startStream(h, context: context) { return }
            if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > maxBodySize {
                oversized = true
            }
        case .body(let chunk) where streamConsumer != nil:
            if let refusal = streamConsumer!.consume(chunk), let h = head {
                streamConsumer = nil
                head = nil
                answering = true
                write(refusal, to: h, keepAlive: false, context: context)
            }
        case .body(var chunk):
            guard !oversized else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > maxBodySize {
                oversized = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            if let consumer = streamConsumer {
                streamConsumer = nil
                answering = true
                write(consumer.end(), to: h, keepAlive: h.isKeepAlive, context: context)
                return
            }
            answer(h, context: context)
        }
    }

    /// Offers the request to the responder as a stream; true when it took it (or refused it).
    /// Only a chunked body can be a stream (a body that never ends has no length): every other
    /// request skips building a head-only request here, which would be work on every GET and PUT.
    private func startStream(_ h: HTTPRequestHead, context: ChannelHandlerContext) -> Bool {
        guard h.headers.contains(name: "transfer-encoding") else { return false }
        let request = HTTPRequest(method: h.method, uri: h.uri, headers: h.headers,
                                  body: context.channel.allocator.buffer(capacity: 0), remoteAddress: peer(context))
        switch responder.streamRequest(request) {
        case nil:
            return false
        case .accept(let consumer):
            streamConsumer = consumer
            return true
        case .refuse(let response):
            head = nil
            answering = true
            write(response, to: h, keepAlive: false, context: context)
            return true
        }
    }

    private func answer(_ h: HTTPRequestHead, context: ChannelHandlerContext) {
        let request = HTTPRequest(method: h.method, uri: h.uri, headers: h.headers,
                                  body: body ?? context.channel.allocator.buffer(capacity: 0),
                                  remoteAddress: peer(context))
        body = nil
        answering = true
        let keepAlive = h.isKeepAlive
        if oversized {
            write(responder.bodyTooLarge(request, limit: maxBodySize), to: h, keepAlive: false, context: context)
            return
        }
        if let now = responder.respondImmediately(to: request) {
            write(now, to: h, keepAlive: keepAlive, context: context)
            return
        }
        let responder = self.responder
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let later = responder.respondLater(to: request) { makeResponse in
            Self.onLoop(eventLoop) {
                let (handler, context) = loopBound.value
                handler.write(makeResponse(), to: h, keepAlive: keepAlive, context: context)
            }
        }
        if later { return }
        inFlight = Task(executorPreference: taskExecutor(context)) { @Sendable in
            let response = await responder.respond(to: request)
            Self.onLoop(eventLoop) {
                let (handler, context) = loopBound.value
                handler.inFlight = nil
                handler.write(response, to: h, keepAlive: keepAlive, context: context)
            }
        }
    }

    // MARK: answers

    private func write(_ response: HTTPResponse, to request: HTTPRequestHead, keepAlive: Bool,
                       context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let allocator = context.channel.allocator
        switch response.body {
        case .bytes(let buffer):
            let wire = HTTPResponseSerializer.whole(response, body: buffer, version: request.version,
                                                    method: request.method, keepAlive: keepAlive, allocator: allocator)
            finish(wire, keepAlive: keepAlive, context: context)
        case .stream(let produce):
            let (wire, framing) = HTTPResponseSerializer.streamHead(response, version: request.version,
                                                                    method: request.method, keepAlive: keepAlive,
                                                                    allocator: allocator)
            streamFraming = framing
            context.writeAndFlush(wrapOutboundOut(wire), promise: nil)
            let writer = HTTPBodyWriter(channel: context.channel)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            inFlight = Task(executorPreference: taskExecutor(context)) { @Sendable in
                do { try await produce(writer) } catch {}
                Self.onLoop(eventLoop) {
                    let (handler, context) = loopBound.value
                    handler.inFlight = nil
                    guard context.channel.isActive else { return }
                    let end = HTTPResponseSerializer.end(framing: handler.streamFraming,
                                                         allocator: context.channel.allocator)
                    handler.streamFraming = .suppressed
                    handler.finish(end ?? context.channel.allocator.buffer(capacity: 0), keepAlive: keepAlive,
                                   context: context)
                }
            }
        }
    }

    /// Writes and flushes the last bytes of an answer, then either closes the connection or goes
    /// on with the next queued request.
    private func finish(_ wire: ByteBuffer, keepAlive: Bool, context: ChannelHandlerContext) {
        guard keepAlive else {
            closing = true
            queued.removeAll()
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(wire)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        // No promise: nothing waits for a kept-alive answer's write, and making one per request
        // (a promise and its future) showed in a GET's profile.
        context.writeAndFlush(wrapOutboundOut(wire), promise: nil)
        answering = false
        replayQueued(context: context)
        if !answering && readPending {
            readPending = false
            context.read()
        }
    }

    /// Hands the queued request parts on until one of them starts another answer that is not
    /// given at once.
    private func replayQueued(context: ChannelHandlerContext) {
        guard !replaying else { return }
        replaying = true
        defer { replaying = false }
        while !answering, !closing, let next = queued.popFirst() {
            switch next {
            case .part(let part): handle(part, context: context)
            case .parseError: refuseMalformed(context: context)
            }
        }
    }

    /// Answers a request NIO's decoder could not parse and closes the connection.
    private func refuseMalformed(context: ChannelHandlerContext) {
        closing = true
        queued.removeAll()
        let reply = HTTPResponseSerializer.badRequest(allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        context.close(promise: nil)
    }

    // MARK: helpers

    private func peer(_ context: ChannelHandlerContext) -> String? {
        if let remoteAddress { return remoteAddress }
        let found = context.remoteAddress?.description
        remoteAddress = .some(found)
        return found
    }

    private func taskExecutor(_ context: ChannelHandlerContext) -> EventLoopTaskExecutor {
        if let executor { return executor }
        let made = EventLoopTaskExecutor(context.eventLoop)
        executor = made
        return made
    }

    /// Runs `body` at once when already on `loop` (a task preferring the loop usually is), else
    /// queues it there.
    private static func onLoop(_ loop: any EventLoop, _ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }
}

/// Why a write into a server connection's channel was refused.
public enum HTTPBodyWriteError: Error, CustomStringConvertible {
    /// Only `.body` parts may be written into a server connection; the server writes heads and ends.
    case notABodyPart
    /// Streamed bodies are written from buffers; file regions are not supported.
    case fileRegionNotSupported

    public var description: String {
        switch self {
        case .notABodyPart:
            return "only body parts may be written into an HTTP server connection (use HTTPBodyWriter)"
        case .fileRegionNotSupported:
            return "streamed HTTP bodies must be written as byte buffers, not file regions"
        }
    }
}
