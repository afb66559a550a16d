import NIOCore
import NIOHTTP1

/// Collects one request at a time (NIO's pipelining handler holds back the next until this
/// response ends), hands it to the responder and writes the response, whole or streamed.
final class HTTPServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: any HTTPResponder
    private let maxBodySize: Int
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var oversized = false
    /// The task answering or streaming the current request; cancelled if the client goes away.
    private var inFlight: Task<Void, Never>?
    /// Where those tasks run: this connection's event loop (see `EventLoopTaskExecutor`).
    private var executor: EventLoopTaskExecutor?
    /// The peer's address as text, looked up once per connection: asking the channel costs a
    /// `getpeername` call and a formatted string, a few percent of a GET's CPU if done per request.
    private var remoteAddress: String??

    init(responder: any HTTPResponder, maxBodySize: Int) {
        self.responder = responder
        self.maxBodySize = maxBodySize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            oversized = false
            if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > maxBodySize {
                oversized = true
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
            let request = HTTPRequest(method: h.method, uri: h.uri, headers: h.headers,
                                      body: body ?? context.channel.allocator.buffer(capacity: 0),
                                      remoteAddress: peer(context))
            body = nil
            let keepAlive = h.isKeepAlive
            if oversized {
                write(responder.bodyTooLarge(request, limit: maxBodySize), version: h.version,
                      keepAlive: false, context: context)
                return
            }
            if let now = responder.respondImmediately(to: request) {
                write(now, version: h.version, keepAlive: keepAlive, context: context)
                return
            }
            let responder = self.responder
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let executor = taskExecutor(context)
            inFlight = Task(executorPreference: executor) { @Sendable in
                let response = await responder.respond(to: request)
                Self.onLoop(eventLoop) {
                    let (handler, context) = loopBound.value
                    handler.inFlight = nil
                    handler.write(response, version: h.version, keepAlive: keepAlive, context: context)
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inFlight?.cancel()
        inFlight = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Parse errors are answered with 400 by NIO's error handler before this one; anything
        // else ends the connection.
        context.close(promise: nil)
    }

    private func write(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var head = HTTPResponseHead(version: version, status: response.status, headers: response.headers)
        if !keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        switch response.body {
        case .bytes(let buffer):
            head.headers.replaceOrAdd(name: "Content-Length", value: String(buffer.readableBytes))
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if buffer.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
            finish(keepAlive: keepAlive, context: context)
        case .stream(let produce):
            head.headers.remove(name: "Content-Length")
            head.headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            let writer = HTTPBodyWriter(channel: context.channel)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let executor = taskExecutor(context)
            inFlight = Task(executorPreference: executor) { @Sendable in
                do { try await produce(writer) } catch {}
                Self.onLoop(eventLoop) {
                    let (handler, context) = loopBound.value
                    handler.inFlight = nil
                    guard context.channel.isActive else { return }
                    handler.finish(keepAlive: keepAlive, context: context)
                }
            }
        }
    }

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

    private func finish(keepAlive: Bool, context: ChannelHandlerContext) {
        guard !keepAlive else {
            // No promise: nothing waits for a kept-alive response's write, and making one per
            // request (a promise and its future) showed in a GET's profile.
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
