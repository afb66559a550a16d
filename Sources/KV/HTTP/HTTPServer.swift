import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Where an HTTP server listens.
public enum HTTPListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// A TCP host (name or address) and port; port 0 picks a free port.
    case tcp(host: String, port: Int)
    /// A TCP host and port served with TLS (needs the server's TLS context).
    case https(host: String, port: Int)
    /// A unix socket path; a stale socket file is replaced.
    case unix(path: String)
    /// A listening socket already bound, e.g. passed by systemd socket activation.
    case fileDescriptor(Int32)

    public var description: String {
        switch self {
        case .tcp(let host, let port): return "http://\(host):\(port)"
        case .https(let host, let port): return "https://\(host):\(port)"
        case .unix(let path): return "unix://\(path)"
        case .fileDescriptor(let fd): return "fd:\(fd)"
        }
    }
}

/// Problems starting an HTTP server.
public enum HTTPServerError: Error, CustomStringConvertible {
    case bindFailed(HTTPListenAddress, underlying: any Error)
    case tlsContextMissing(HTTPListenAddress)

    public var description: String {
        switch self {
        case .bindFailed(let address, let error): return "cannot listen on \(address): \(error)"
        case .tlsContextMissing(let address):
            return "cannot listen on \(address): no TLS certificate and key configured for it"
        }
    }
}

/// An HTTP/1.1 server on SwiftNIO: keep-alive, pipelining, bounded bodies, streamed responses
/// (`HTTPServerHandler` does the pipelining and the response encoding).
///
/// Plain NIO rather than a framework so that it can adopt a socket passed by systemd and
/// so that hot paths can answer on the event loop without a task hop.
public final class HTTPServer: Sendable {
    public let address: HTTPListenAddress
    private let channel: Channel
    private let connections: ConnectionSet

    /// The bound address (with the real port when 0 was asked).
    public var boundAddress: HTTPListenAddress {
        if case .tcp(let host, _) = address, let port = channel.localAddress?.port {
            return .tcp(host: host, port: port)
        }
        if case .https(let host, _) = address, let port = channel.localAddress?.port {
            return .https(host: host, port: port)
        }
        return address
    }

    private init(address: HTTPListenAddress, channel: Channel, connections: ConnectionSet) {
        self.address = address
        self.channel = channel
        self.connections = connections
    }

    /// Starts listening. `maxBodySize` bounds request bodies; larger ones get `bodyTooLarge`.
    /// An `.https` address is served with `tls` (required for it; ignored for other addresses).
    /// Connections are served on `connectionGroup` when given (the KV peer listener puts them on
    /// the Raft loop), else on `group` like the listening socket.
    public static func start(
        address: HTTPListenAddress,
        responder: any HTTPResponder,
        tls: NIOSSLContext? = nil,
        maxBodySize: Int = 2 * 1024 * 1024,
        maxHeaderSize: Int = 64 * 1024,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectionGroup: EventLoopGroup? = nil
    ) async throws -> HTTPServer {
        let connections = ConnectionSet()
        var serverTLS: NIOSSLContext?
        if case .https = address {
            guard let tls else { throw HTTPServerError.tlsContextMissing(address) }
            serverTLS = tls
        }
        let sessionTLS = serverTLS
        let bootstrap = ServerBootstrap(group: group, childGroup: connectionGroup ?? group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                connections.insert(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    if let sessionTLS { try ops.addHandler(NIOSSLServerHandler(context: sessionTLS)) }
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderFieldSize = maxHeaderSize
                    limits.maxHeaderListSize = maxHeaderSize
                    // NIO's request decoder, then our handler, which also pipelines, answers parse
                    // errors and encodes responses: a whole answer is one write and one flush
                    // (NIO's pipelining, error and encoder handlers cost three writes through
                    // three handlers per answer, ~15 % of a PUT's CPU). Response headers are not
                    // re-validated: responders build them from fixed names and numbers; the values
                    // they echo or relay (KV's redirect Location, the proxy's and the fleet API's
                    // forwarded headers) come out of NIO's HTTP parser, which has already refused
                    // CR, LF and NUL in them.
                    try ops.addHandler(ByteToMessageHandler(HTTPRequestDecoder(
                        leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)))
                    try ops.addHandler(HTTPServerHandler(responder: responder, maxBodySize: maxBodySize))
                }
            }
        do {
            let channel: Channel
            switch address {
            case .tcp(let host, let port), .https(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            case .fileDescriptor(let fd):
                channel = try await bootstrap.withBoundSocket(fd).get()
            }
            return HTTPServer(address: address, channel: channel, connections: connections)
        } catch {
            throw HTTPServerError.bindFailed(address, underlying: error)
        }
    }

    /// Stops accepting connections, closes the listening socket and every open connection
    /// (kept-alive clients must not keep talking to a stopped server).
    public func shutdown() async {
        try? await channel.close()
        for c in connections.closeAll() { try? await c.closeFuture.get() }
    }
}

/// The open connections of a server, so that shutdown can close them.
final class ConnectionSet: Sendable {
    private let channels = NIOLockedValueBox([ObjectIdentifier: Channel]())
    private let closed = NIOLockedValueBox(false)

    func insert(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        let refuse = closed.withLockedValue { $0 }
        if refuse {
            channel.close(promise: nil)
            return
        }
        channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.channels.withLockedValue { $0.removeValue(forKey: id) }
        }
    }

    func closeAll() -> [Channel] {
        closed.withLockedValue { $0 = true }
        let all = channels.withLockedValue { Array($0.values) }
        for c in all { c.close(promise: nil) }
        return all
    }
}
