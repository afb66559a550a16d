import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The queue and the stream for one peer, driven on one event loop without tasks.
///
/// Why not a task per peer: a frame queued by the Raft loop then took three thread hops before it
/// reached the socket (Raft queue → cooperative pool to resume the task → event loop for the write,
/// and back to the pool for the answer). Every Raft round trip crosses two senders (append out,
/// acknowledgement back), so on a loaded 2-core machine those hops were a large part of a
/// sequential write's latency and of the CPU per write. Here `enqueue` schedules the event loop
/// that owns the connection once (not at all from that loop itself).
///
/// Why a stream rather than a request per batch: frames go out as chunks of one POST body that
/// lasts as long as the connection (`PeerProtocol.streamPath`), and the peer answers nothing
/// while it accepts them, as etcd's streams do. With a request per batch, every batch also cost
/// an answer: a write on the peer and a wake-up and a read here, on both members of every Raft
/// round trip (six extra messages per replicated write in a 3-member cluster).
///
/// Delivery is best effort, as Raft expects: frames on a stream that breaks are lost and the peer
/// is reported unreachable (Raft retransmits). Frames to one peer stay in order (one connection).
/// A peer that stops acknowledging data at the TCP level for ``requestTimeout`` (a partition)
/// has its connection dropped by the kernel (`TCP_USER_TIMEOUT`), so a stream never sits behind
/// a long retransmission backoff after the network heals.
final class PeerSender: @unchecked Sendable {
    /// How long connecting, and data unacknowledged by the peer's TCP, may take.
    static let requestTimeout: TimeAmount = .seconds(5)
    /// Pause before reconnecting after a second failure in a row, so a dead peer does not spin.
    static let retryPause: TimeAmount = .milliseconds(100)
    /// A stream open this long counts as a success (ending a failure streak); one that ends
    /// sooner, such as a refused one, counts as another failure in a row.
    static let settleTime: TimeAmount = .seconds(1)

    let peer: UInt64
    private let eventLoop: any EventLoop
    private weak var transport: PeerTransport?
    private let clusterHeader: String
    private let fromHeader: String
    /// This member's peer URLs (`X-PeerURLs`), so a peer that has no record of us can answer.
    private let peerURLsHeader: String?

    // Guarded by `lock`: touched by `enqueue` (the Raft loop) and the event loop.
    private let lock = NIOLock()
    private var queue: [[UInt8]] = []
    private var endpoints: [HTTPEndpoint]
    private var endpointIndex = 0
    private var stopped = false
    private var pumpScheduled = false

    // Confined to `eventLoop`.
    private var channel: (any Channel)?
    private var channelEndpoint: HTTPEndpoint?
    private var connecting = false
    private var pausing = false
    private var failing = false
    /// Which failures and recoveries get a log line (confined to `eventLoop` like the rest).
    private var streak = PeerFailureStreak()

    init(peer: UInt64, endpoints: [HTTPEndpoint], transport: PeerTransport, eventLoop: any EventLoop) {
        self.peer = peer
        self.endpoints = endpoints
        self.transport = transport
        self.eventLoop = eventLoop
        self.clusterHeader = PeerProtocol.hex(transport.clusterID)
        self.fromHeader = PeerProtocol.hex(transport.localID)
        self.peerURLsHeader = transport.localURLs.isEmpty ? nil : transport.localURLs.joined(separator: ",")
    }

    var currentEndpoint: HTTPEndpoint? {
        lock.withLock { endpoints.isEmpty ? nil : endpoints[endpointIndex % endpoints.count] }
    }

    func setEndpoints(_ endpoints: [HTTPEndpoint]) {
        lock.withLock {
            self.endpoints = endpoints
            endpointIndex = 0
        }
    }

    /// Queues frames (beyond ``PeerTransport/maxQueuedFrames`` they are dropped) and makes sure
    /// the event loop will send them; returns at once.
    func enqueue(_ frames: [[UInt8]]) {
        let schedule = lock.withLock { () -> Bool in
            guard !stopped else { return false }
            let room = PeerTransport.maxQueuedFrames - queue.count
            queue.append(contentsOf: frames.prefix(max(room, 0)))
            if pumpScheduled { return false }
            pumpScheduled = true
            return true
        }
        // From the loop itself (the Raft loop sending a Ready) the frames go out at once.
        if eventLoop.inEventLoop { pump() } else if schedule { eventLoop.execute { self.pump() } }
    }

    func stop() {
        lock.withLock {
            stopped = true
            queue.removeAll()
        }
        eventLoop.execute {
            self.channel?.close(promise: nil)
            self.channel = nil
        }
    }

    // MARK: - On the event loop

    /// Writes what is queued to the stream while the connection takes more; opens the stream
    /// first when there is none.
    private func pump() {
        let (stopped, endpoint, empty) = lock.withLock { () -> (Bool, HTTPEndpoint?, Bool) in
            pumpScheduled = false
            return (self.stopped, endpoints.isEmpty ? nil : endpoints[endpointIndex % endpoints.count], queue.isEmpty)
        }
        guard !stopped, !connecting, !pausing, !empty, let endpoint else { return }
        if let channel, channelEndpoint != endpoint || !channel.isActive {
            // The peer moved (or the connection died): the old stream's end is not reported again.
            self.channel = nil
            channel.close(promise: nil)
        }
        guard let channel else {
            connect(to: endpoint)
            return
        }
        var wrote = false
        while channel.isWritable, let batch = takeBatch() {
            let chunk = PeerFrames.encode(batch, allocator: channel.allocator)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(chunk)), promise: nil)
            wrote = true
        }
        if wrote { channel.flush() }
    }

    /// Takes up to ``PeerTransport/maxBatchBytes`` of queued frames; nil when none are queued.
    private func takeBatch() -> [[UInt8]]? {
        lock.withLock {
            guard !queue.isEmpty else { return nil }
            var bytes = 0
            var n = 0
            while n < queue.count, n == 0 || bytes + queue[n].count <= PeerTransport.maxBatchBytes {
                bytes += queue[n].count
                n += 1
            }
            if n == queue.count {
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            defer { queue.removeFirst(n) }
            return Array(queue[0..<n])
        }
    }

    /// The head of the stream's POST: chunked, since its body lasts as long as the connection.
    private func streamHead(to endpoint: HTTPEndpoint) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        headers.add(name: PeerProtocol.clusterHeader, value: clusterHeader)
        headers.add(name: PeerProtocol.fromHeader, value: fromHeader)
        if let peerURLsHeader { headers.add(name: PeerProtocol.peerURLsHeader, value: peerURLsHeader) }
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        return HTTPRequestHead(version: .http1_1, method: .POST, uri: PeerProtocol.streamPath, headers: headers)
    }

    private func connect(to endpoint: HTTPEndpoint) {
        connecting = true
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(Self.requestTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        if case .tcp = endpoint {
            bootstrap = bootstrap.channelOption(.tcpOption(Self.tcpUserTimeout),
                                                value: SocketOptionValue(Self.requestTimeout.nanoseconds / 1_000_000))
        }
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(PeerStreamClientHandler(
                    onEnd: { ending in self.streamEnded(channel, ending, endpoint: endpoint) },
                    onWritable: { self.pump() }))
            }
        }
        let connected: EventLoopFuture<any Channel>
        switch endpoint {
        case .tcp(let host, let port): connected = bootstrap.connect(host: host, port: port)
        case .unix(let path): connected = bootstrap.connect(unixDomainSocketPath: path)
        }
        connected.hop(to: eventLoop).whenComplete { result in
            self.connecting = false
            switch result {
            case .success(let channel):
                if self.lock.withLock({ self.stopped }) {
                    channel.close(promise: nil)
                    return
                }
                self.channel = channel
                self.channelEndpoint = endpoint
                channel.write(HTTPClientRequestPart.head(self.streamHead(to: endpoint)), promise: nil)
                self.eventLoop.scheduleTask(in: Self.settleTime) { self.settled(channel) }
            case .failure(let error):
                // Nothing can go out on this connection: drop what is queued (Raft retransmits).
                self.lock.withLock { self.queue.removeAll(keepingCapacity: true) }
                self.failed(HTTPClientError.connectFailed(endpoint, reason: String(describing: error)))
            }
            self.pump()
        }
    }

    /// Linux's `TCP_USER_TIMEOUT`: how long sent data may stay unacknowledged before the kernel
    /// drops the connection.
    private static let tcpUserTimeout = NIOBSDSocket.Option(rawValue: 18)

    /// A stream still open after ``settleTime`` ends a failure streak.
    private func settled(_ channel: any Channel) {
        guard self.channel === channel, channel.isActive else { return }
        failing = false
        if let report = streak.succeeded(at: .now()) { transport?.log(report, peer: peer, error: nil) }
    }

    /// The peer answered the stream (a refusal) or the connection closed: report and reconnect.
    private func streamEnded(_ channel: any Channel, _ ending: PeerStreamClientHandler.Ending, endpoint: HTTPEndpoint) {
        guard self.channel === channel else { return }
        self.channel = nil
        guard !lock.withLock({ stopped }) else { return }
        let error: any Error
        switch ending {
        case .answered(let status, let body) where status == .preconditionFailed:
            error = PeerTransportError.clusterMismatch(peer: peer, endpoint: endpoint, detail: body)
        case .answered(let status, let body):
            error = PeerTransportError.rejected(peer: peer, endpoint: endpoint, status: status.code, detail: body)
        case .closed:
            error = HTTPClientError.connectionClosed(endpoint)
        }
        failed(error)
        pump()
    }

    /// Reports a failure (every one, so Raft can slow down probing), tries the next endpoint,
    /// and pauses briefly after the second failure in a row.
    private func failed(_ error: any Error) {
        let first = !failing
        failing = true
        lock.withLock { if endpoints.count > 1 { endpointIndex = (endpointIndex + 1) % endpoints.count } }
        transport?.reportUnreachable(peer, error, log: streak.failed(at: .now()))
        guard !first, !pausing else { return }
        pausing = true
        eventLoop.scheduleTask(in: Self.retryPause) {
            self.pausing = false
            self.pump()
        }
    }
}
