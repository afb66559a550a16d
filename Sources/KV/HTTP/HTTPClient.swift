#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// A server an `HTTPClient` talks to.
public enum HTTPEndpoint: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `http://host:port`, `https://host:port` (default port 443) or `unix:///path`, and
    /// says whether the URL asks for TLS. An `HTTPClient` made with a TLS context speaks TLS to
    /// every TCP endpoint, so https endpoints go to such a client.
    public static func parse(url: String) -> (endpoint: HTTPEndpoint, tls: Bool)? {
        guard url.lowercased().hasPrefix("https://") else { return HTTPEndpoint(url: url).map { ($0, false) } }
        var rest = String(url.dropFirst("https://".count))
        if let slash = rest.firstIndex(of: "/") { rest = String(rest[..<slash]) }
        let hasPort = rest.hasPrefix("[") ? rest.contains("]:") : rest.contains(":")
        guard let endpoint = HTTPEndpoint(url: "http://" + rest + (hasPort ? "" : ":443")) else { return nil }
        return (endpoint, true)
    }

    /// Parses `http://host:port`, `host:port` or `unix:///path` (also `unix:/path`). A path part
    /// of an http URL is ignored; use `basePath(of:)` to get it. `https://` is refused here (see
    /// `parse(url:)`), so a plain client never speaks clear text to a TLS URL.
    public init?(url: String) {
        if url.hasPrefix("unix://") {
            let path = String(url.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { return nil }
            self = .unix(path: path)
            return
        }
        if url.hasPrefix("unix:") {
            let path = String(url.dropFirst("unix:".count))
            guard path.hasPrefix("/") else { return nil }
            self = .unix(path: path)
            return
        }
        var rest = Substring(url)
        if rest.hasPrefix("http://") { rest = rest.dropFirst("http://".count) } else if rest.contains("://") { return nil }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {  // [::1]:2379
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : "80"
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
            portText = "80"
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self = .tcp(host: String(host), port: port)
    }

    /// True for an IPv4 or IPv6 literal (TLS checks those against the certificate's IP addresses,
    /// since SNI cannot carry one).
    public static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// The value of the Host header.
    var hostHeader: String {
        switch self {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix: return "localhost"
        }
    }

    public var description: String {
        switch self {
        case .tcp: return "http://\(hostHeader)"
        case .unix(let path): return "unix://\(path)"
        }
    }
}

/// A response received by `HTTPClient`.
public struct HTTPClientResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public var bodyString: String { String(decoding: body.readableBytesView, as: UTF8.self) }
}

/// A response whose body is still arriving (``HTTPClient/openStream(_:_:_:headers:body:connectTimeout:idleTick:headTimeout:)``).
public struct HTTPClientStream: Sendable {
    public var head: HTTPResponseHead
    /// Body chunks in order; finishes with the response, throws if the connection fails first.
    public var body: AsyncThrowingStream<ByteBuffer, Error>
    let channel: Channel

    /// Closes the connection (any task may call it); the body stream then ends with an error.
    public func close() { channel.close(promise: nil) }
}

/// Failures of `HTTPClient` requests, each naming the endpoint.
public enum HTTPClientError: Error, CustomStringConvertible, Equatable {
    case connectFailed(HTTPEndpoint, reason: String)
    case timedOut(HTTPEndpoint, seconds: Double)
    case connectionClosed(HTTPEndpoint)
    case responseTooLarge(HTTPEndpoint, limit: Int)
    /// The TLS handshake failed: certificate not trusted, wrong name, no client certificate, ...
    case tlsFailed(HTTPEndpoint, reason: String)
    /// A new TLS connection was closed without an answer: with TLS 1.3 a server checks the client's
    /// certificate after the client's side of the handshake is done and may just hang up. (The
    /// request may have reached the server, so it is not retried elsewhere.)
    case closedAfterTLSHandshake(HTTPEndpoint)

    public var description: String {
        switch self {
        case .connectFailed(let e, let reason): return "cannot connect to \(e): \(reason)"
        case .timedOut(let e, let s): return "request to \(e) timed out after \(s) s"
        case .connectionClosed(let e): return "\(e) closed the connection before answering"
        case .responseTooLarge(let e, let limit): return "response from \(e) is larger than \(limit) bytes"
        case .tlsFailed(let e, let reason): return "TLS with \(e) failed: \(reason)"
        case .closedAfterTLSHandshake(let e):
            return "\(e) closed the TLS connection without answering (does it require a client certificate it trusts?)"
        }
    }
}

extension HTTPClientError {
    /// `.tlsFailed` when `error` comes from the TLS layer (handshake, certificate checks), else nil.
    static func tlsFailure(_ error: any Error, _ endpoint: HTTPEndpoint) -> HTTPClientError? {
        guard error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError else { return nil }
        return .tlsFailed(endpoint, reason: String(describing: error))
    }
}

/// A small HTTP/1.1 client with keep-alive connection reuse, on SwiftNIO.
///
/// Used by fleetctl, the remote store client, the peer transport and the load generator, where a
/// full client library would double the clean build time. With a `tls` context every TCP
/// connection is TLS (the server's certificate checked against the host or IP address dialled);
/// unix sockets stay plain.
public final class HTTPClient: Sendable {
    private let group: EventLoopGroup
    private let idle = NIOLockedValueBox([HTTPEndpoint: [Channel]]())
    private let maxIdlePerEndpoint: Int
    private let maxResponseSize: Int
    private let tls: NIOSSLContext?

    public init(group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxIdlePerEndpoint: Int = 64,
                maxResponseSize: Int = 64 * 1024 * 1024, tls: NIOSSLContext? = nil) {
        self.group = group
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.maxResponseSize = maxResponseSize
        self.tls = tls
    }

    /// True when this client speaks TLS to TCP endpoints.
    public var usesTLS: Bool { tls != nil }

    /// Sends a request and collects the whole response. `timeout` covers connecting and answering.
    public func execute(
        _ method: HTTPMethod, _ endpoint: HTTPEndpoint, _ uri: String,
        headers: HTTPHeaders = [:], body: ByteBuffer? = nil, timeout: Double = 30
    ) async throws -> HTTPClientResponse {
        let (channel, fresh) = try await connection(to: endpoint, timeout: timeout)
        let promise = channel.eventLoop.makePromise(of: HTTPClientResponse.self)
        let request = PendingRequest(head: makeHead(method, endpoint, uri, headers, body), body: body,
                                     consumer: .collect(promise), endpoint: endpoint, limit: maxResponseSize)
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
            promise.fail(HTTPClientError.timedOut(endpoint, seconds: timeout))
            channel.close(promise: nil)
        }
        // A pooled connection may close between the check and the write: fail at once then (a
        // failed TLS handshake also fails the write: say so).
        channel.writeAndFlush(request).whenFailure { error in
            promise.fail(HTTPClientError.tlsFailure(error, endpoint) ?? HTTPClientError.connectionClosed(endpoint))
        }
        do {
            let response = try await promise.futureResult.get()
            timer.cancel()
            release(channel, endpoint: endpoint, keepAlive: !response.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" })
            return response
        } catch HTTPClientError.connectionClosed(let e) where fresh && tls != nil {
            timer.cancel()
            channel.close(promise: nil)
            // With TLS 1.3 a server checks the client's certificate after the client's side of the
            // handshake is done, and may just close the connection: name the likely cause.
            throw HTTPClientError.closedAfterTLSHandshake(e)
        } catch {
            timer.cancel()
            channel.close(promise: nil)
            throw error
        }
    }

    /// Sends a request whose response body arrives over time (watches, journal follow). The head
    /// is returned at once; body chunks arrive on the stream, which ends with the response.
    /// Cancelling the consuming task closes the connection.
    public func stream(
        _ method: HTTPMethod, _ endpoint: HTTPEndpoint, _ uri: String,
        headers: HTTPHeaders = [:], body: ByteBuffer? = nil, connectTimeout: Double = 10
    ) async throws -> (HTTPResponseHead, AsyncThrowingStream<ByteBuffer, Error>) {
        let response = try await openStream(method, endpoint, uri, headers: headers, body: body,
                                            connectTimeout: connectTimeout)
        return (response.head, response.body)
    }

    /// As ``stream(_:_:_:headers:body:connectTimeout:)``, with a handle that closes the connection
    /// from any task, and optionally an idle tick: when no byte arrives for `idleTick` seconds the
    /// body stream yields an empty buffer (and again after each further quiet period). A consumer of
    /// a long-lived stream (a store watch) uses the tick to check that the server is still there
    /// without giving up the stream, as a partitioned server that never resets the connection would
    /// otherwise leave it waiting for ever. `headTimeout`, when given, bounds the wait for the
    /// response head, for requests a server answers with their head at once (a `stream=true` watch):
    /// a silent server may still complete the connection (its kernel does) and then never answer.
    public func openStream(
        _ method: HTTPMethod, _ endpoint: HTTPEndpoint, _ uri: String,
        headers: HTTPHeaders = [:], body: ByteBuffer? = nil, connectTimeout: Double = 10, idleTick: Double? = nil,
        headTimeout: Double? = nil
    ) async throws -> HTTPClientStream {
        let (channel, _) = try await connection(to: endpoint, timeout: connectTimeout, pooled: false)
        if let idleTick {
            let idle = IdleStateHandler(readTimeout: .nanoseconds(Int64(idleTick * 1e9)))
            try await channel.pipeline.addHandler(idle, position: .first).get()
        }
        let headPromise = channel.eventLoop.makePromise(of: HTTPResponseHead.self)
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, Error>.makeStream()
        continuation.onTermination = { _ in channel.close(promise: nil) }
        let request = PendingRequest(head: makeHead(method, endpoint, uri, headers, body), body: body,
                                     consumer: .stream(headPromise, continuation), endpoint: endpoint,
                                     limit: Int.max)
        if let headTimeout {
            let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(headTimeout * 1e9))) {
                let failure = HTTPClientError.timedOut(endpoint, seconds: headTimeout)
                headPromise.fail(failure)
                continuation.finish(throwing: failure)
                channel.close(promise: nil)
            }
            headPromise.futureResult.whenComplete { _ in timer.cancel() }
        }
        channel.writeAndFlush(request).whenFailure { error in
            let failure = HTTPClientError.tlsFailure(error, endpoint) ?? HTTPClientError.connectionClosed(endpoint)
            headPromise.fail(failure)
            continuation.finish(throwing: failure)
        }
        let head = try await headPromise.futureResult.get()
        return HTTPClientStream(head: head, body: stream, channel: channel)
    }

    /// Closes every idle connection.
    public func shutdown() {
        let all = idle.withLockedValue { pool -> [Channel] in
            defer { pool.removeAll() }
            return pool.values.flatMap { $0 }
        }
        for channel in all { channel.close(promise: nil) }
    }

    private func makeHead(_ method: HTTPMethod, _ endpoint: HTTPEndpoint, _ uri: String, _ headers: HTTPHeaders,
                          _ body: ByteBuffer?) -> HTTPRequestHead {
        var h = headers
        if !h.contains(name: "Host") { h.add(name: "Host", value: endpoint.hostHeader) }
        if let body {
            h.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        } else if [.POST, .PUT, .PATCH].contains(method) {
            h.replaceOrAdd(name: "Content-Length", value: "0")
        }
        return HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: h)
    }

    /// A kept-alive connection to `endpoint` (`fresh` false), or a new one.
    private func connection(to endpoint: HTTPEndpoint, timeout: Double, pooled: Bool = true) async throws
        -> (channel: Channel, fresh: Bool)
    {
        if pooled {
            while let channel = idle.withLockedValue({ $0[endpoint]?.popLast() }) {
                if channel.isActive { return (channel, false) }
            }
        }
        // SNI and name checks use the host name; an IP address is checked against the certificate's
        // IP addresses instead (SNI cannot carry one).
        var tlsName: String?? = nil
        if tls != nil, case .tcp(let host, _) = endpoint { tlsName = .some(HTTPEndpoint.isIPAddress(host) ? nil : host) }
        let tls = self.tls
        let handshake = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(timeout * 1e9)))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { [tlsName] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls, let name = tlsName {
                        let waiter = TLSHandshakeWaiter(promise: channel.eventLoop.makePromise())
                        handshake.withLockedValue { $0 = waiter.promise.futureResult }
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name))
                        try channel.pipeline.syncOperations.addHandler(waiter)
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTPClientHandler())
                }
            }
        let channel: Channel
        do {
            switch endpoint {
            case .tcp(let host, let port): channel = try await bootstrap.connect(host: host, port: port).get()
            case .unix(let path): channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            }
        } catch {
            throw HTTPClientError.connectFailed(endpoint, reason: String(describing: error))
        }
        // A TLS connection is handed out only once its handshake succeeded, so a certificate problem
        // is reported as such (and no request byte was sent).
        if let done = handshake.withLockedValue({ $0 }) {
            do { try await done.get() } catch {
                channel.close(promise: nil)
                throw HTTPClientError.tlsFailure(error, endpoint)
                    ?? HTTPClientError.tlsFailed(endpoint, reason: String(describing: error))
            }
        }
        return (channel, true)
    }

    private func release(_ channel: Channel, endpoint: HTTPEndpoint, keepAlive: Bool) {
        guard keepAlive, channel.isActive else {
            channel.close(promise: nil)
            return
        }
        let kept = idle.withLockedValue { pool -> Bool in
            var list = pool[endpoint, default: []]
            guard list.count < maxIdlePerEndpoint else { return false }
            list.append(channel)
            pool[endpoint] = list
            return true
        }
        if !kept { channel.close(promise: nil) }
    }
}

/// One request in flight on a connection and where its response goes.
struct PendingRequest {
    enum Consumer {
        case collect(EventLoopPromise<HTTPClientResponse>)
        case stream(EventLoopPromise<HTTPResponseHead>, AsyncThrowingStream<ByteBuffer, Error>.Continuation)
    }

    var head: HTTPRequestHead
    var body: ByteBuffer?
    var consumer: Consumer
    var endpoint: HTTPEndpoint
    var limit: Int
}

/// Writes requests and matches responses to them in order.
final class HTTPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: [PendingRequest] = []
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        pending.append(request)
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let current = pending.first else { return }
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            if case .stream(let headPromise, _) = current.consumer { headPromise.succeed(h) }
        case .body(var chunk):
            switch current.consumer {
            case .collect(let promise):
                if (body?.readableBytes ?? 0) + chunk.readableBytes > current.limit {
                    promise.fail(HTTPClientError.responseTooLarge(current.endpoint, limit: current.limit))
                    context.close(promise: nil)
                    return
                }
                if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            case .stream(_, let continuation):
                continuation.yield(chunk)
            }
        case .end:
            pending.removeFirst()
            switch current.consumer {
            case .collect(let promise):
                if let h = head {
                    promise.succeed(HTTPClientResponse(status: h.status, headers: h.headers,
                                                       body: body ?? context.channel.allocator.buffer(capacity: 0)))
                }
            case .stream(_, let continuation):
                continuation.finish()
            }
            head = nil
            body = nil
        }
    }

    /// An idle tick (``HTTPClient/openStream(_:_:_:headers:body:connectTimeout:idleTick:headTimeout:)``) becomes an
    /// empty chunk on the body stream being received.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read,
            case .stream(_, let continuation)? = pending.first?.consumer
        {
            continuation.yield(context.channel.allocator.buffer(capacity: 0))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(HTTPClientError.connectionClosed(pending.first?.endpoint ?? .unix(path: "?")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let endpoint = pending.first?.endpoint, let failure = HTTPClientError.tlsFailure(error, endpoint) {
            failAll(failure)
            context.close(promise: nil)
            return
        }
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        let all = pending
        pending.removeAll()
        for request in all {
            switch request.consumer {
            case .collect(let promise): promise.fail(error)
            case .stream(let headPromise, let continuation):
                headPromise.fail(error)
                continuation.finish(throwing: error)
            }
        }
    }
}

/// Completes when the TLS handshake of a new connection succeeded, fails when it did not (the
/// error, or the connection closing first). It stays in the pipeline and passes everything on.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let promise: EventLoopPromise<Void>
    private var settled = false

    /// The connection closed before the handshake finished.
    struct ClosedDuringHandshake: Error, CustomStringConvertible {
        var description: String { "the server closed the connection during the TLS handshake" }
    }

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    private func settle(_ result: Result<Void, any Error>) {
        guard !settled else { return }
        settled = true
        promise.completeWith(result)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { settle(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        settle(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(.failure(ClosedDuringHandshake()))
        context.fireChannelInactive()
    }
}
