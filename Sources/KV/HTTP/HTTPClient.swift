import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A server an `HTTPClient` talks to.
public enum HTTPEndpoint: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `http://host:port`, `host:port` or `unix:///path` (also `unix:/path`). A path part
    /// of an http URL is ignored; use `basePath(of:)` to get it.
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

/// Failures of `HTTPClient` requests, each naming the endpoint.
public enum HTTPClientError: Error, CustomStringConvertible, Equatable {
    case connectFailed(HTTPEndpoint, reason: String)
    case timedOut(HTTPEndpoint, seconds: Double)
    case connectionClosed(HTTPEndpoint)
    case responseTooLarge(HTTPEndpoint, limit: Int)

    public var description: String {
        switch self {
        case .connectFailed(let e, let reason): return "cannot connect to \(e): \(reason)"
        case .timedOut(let e, let s): return "request to \(e) timed out after \(s) s"
        case .connectionClosed(let e): return "\(e) closed the connection before answering"
        case .responseTooLarge(let e, let limit): return "response from \(e) is larger than \(limit) bytes"
        }
    }
}

/// A small HTTP/1.1 client with keep-alive connection reuse, on SwiftNIO.
///
/// Used by fleetctl, the remote store client, the peer transport and the load generator, where a
/// full client library (and its TLS stack) would double the clean build time.
public final class HTTPClient: Sendable {
    private let group: EventLoopGroup
    private let idle = NIOLockedValueBox([HTTPEndpoint: [Channel]]())
    private let maxIdlePerEndpoint: Int
    private let maxResponseSize: Int

    public init(group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxIdlePerEndpoint: Int = 64,
                maxResponseSize: Int = 64 * 1024 * 1024) {
        self.group = group
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.maxResponseSize = maxResponseSize
    }

    /// Sends a request and collects the whole response. `timeout` covers connecting and answering.
    public func execute(
        _ method: HTTPMethod, _ endpoint: HTTPEndpoint, _ uri: String,
        headers: HTTPHeaders = [:], body: ByteBuffer? = nil, timeout: Double = 30
    ) async throws -> HTTPClientResponse {
        let channel = try await connection(to: endpoint, timeout: timeout)
        let promise = channel.eventLoop.makePromise(of: HTTPClientResponse.self)
        let request = PendingRequest(head: makeHead(method, endpoint, uri, headers, body), body: body,
                                     consumer: .collect(promise), endpoint: endpoint, limit: maxResponseSize)
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
            promise.fail(HTTPClientError.timedOut(endpoint, seconds: timeout))
            channel.close(promise: nil)
        }
        // A pooled connection may close between the check and the write: fail at once then.
        channel.writeAndFlush(request).whenFailure { _ in promise.fail(HTTPClientError.connectionClosed(endpoint)) }
        do {
            let response = try await promise.futureResult.get()
            timer.cancel()
            release(channel, endpoint: endpoint, keepAlive: !response.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" })
            return response
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
        let channel = try await connection(to: endpoint, timeout: connectTimeout, pooled: false)
        let headPromise = channel.eventLoop.makePromise(of: HTTPResponseHead.self)
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, Error>.makeStream()
        continuation.onTermination = { _ in channel.close(promise: nil) }
        let request = PendingRequest(head: makeHead(method, endpoint, uri, headers, body), body: body,
                                     consumer: .stream(headPromise, continuation), endpoint: endpoint,
                                     limit: Int.max)
        channel.writeAndFlush(request).whenFailure { _ in
            headPromise.fail(HTTPClientError.connectionClosed(endpoint))
            continuation.finish(throwing: HTTPClientError.connectionClosed(endpoint))
        }
        let head = try await headPromise.futureResult.get()
        return (head, stream)
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

    private func connection(to endpoint: HTTPEndpoint, timeout: Double, pooled: Bool = true) async throws -> Channel {
        if pooled {
            while let channel = idle.withLockedValue({ $0[endpoint]?.popLast() }) {
                if channel.isActive { return channel }
            }
        }
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(timeout * 1e9)))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTPClientHandler())
                }
            }
        do {
            switch endpoint {
            case .tcp(let host, let port): return try await bootstrap.connect(host: host, port: port).get()
            case .unix(let path): return try await bootstrap.connect(unixDomainSocketPath: path).get()
            }
        } catch {
            throw HTTPClientError.connectFailed(endpoint, reason: String(describing: error))
        }
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

    func channelInactive(context: ChannelHandlerContext) {
        failAll(HTTPClientError.connectionClosed(pending.first?.endpoint ?? .unix(path: "?")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
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
