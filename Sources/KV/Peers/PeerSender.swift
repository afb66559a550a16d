import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The queue and the connection for one peer, driven on one event loop without tasks.
///
/// Why not a task per peer: a frame queued by the Raft loop then took three thread hops before it
/// reached the socket (Raft queue → cooperative pool to resume the task → event loop for the write,
/// and back to the pool for the answer). Every Raft round trip crosses two senders (append out,
/// acknowledgement back), so on a loaded 2-core machine those hops were a large part of a
/// sequential write's latency and of the CPU per write. Here `enqueue` schedules the event loop
/// that owns the connection once, and the answer to one batch sends the next on the same loop.
///
/// Up to ``maxInFlight`` batches are pipelined on the kept-alive connection (the peer answers them
/// in order), so a new frame never waits for the answer to an earlier batch. Delivery is best
/// effort, as Raft expects: a batch that cannot be delivered is dropped and the peer reported
/// unreachable; Raft retransmits. Frames to one peer stay in order (one connection, in order).
final class PeerSender: @unchecked Sendable {
    /// Batches written and not yet answered. Generous on purpose: the peer answers a batch when its
    /// Raft loop reads it, and that loop does not read while it syncs its WAL. With a small limit a
    /// follower's acknowledgement waited behind unanswered earlier batches until the leader's sync
    /// ended and one more round trip passed (measured: sequential 3-member PUT p50 2.9 → 3.9 ms
    /// with a limit of 2).
    static let maxInFlight = 64
    /// How long a batch may wait for its answer before the connection is dropped.
    static let requestTimeout: TimeAmount = .seconds(5)
    /// Pause before reconnecting after a second failure in a row, so a dead peer does not spin.
    static let retryPause: TimeAmount = .milliseconds(100)

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
    private var inFlight = 0
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

    /// Sends what is queued while fewer than ``maxInFlight`` batches await answers; connects first
    /// when there is no usable connection.
    private func pump() {
        let (stopped, endpoint, empty) = lock.withLock { () -> (Bool, HTTPEndpoint?, Bool) in
            pumpScheduled = false
            return (self.stopped, endpoints.isEmpty ? nil : endpoints[endpointIndex % endpoints.count], queue.isEmpty)
        }
        guard !stopped, !connecting, !pausing, !empty, let endpoint else { return }
        if let channel, channelEndpoint != endpoint || !channel.isActive {
            // The peer moved (or the connection died): answers still due on it fail and are reported.
            channel.close(promise: nil)
            self.channel = nil
        }
        guard let channel else {
            if inFlight == 0 { connect(to: endpoint) }
            return
        }
        while inFlight < Self.maxInFlight, let batch = takeBatch() {
            send(batch, on: channel, to: endpoint)
        }
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

    private func send(_ batch: [[UInt8]], on channel: any Channel, to endpoint: HTTPEndpoint) {
        let body = PeerFrames.encode(batch, allocator: channel.allocator)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        headers.add(name: PeerProtocol.clusterHeader, value: clusterHeader)
        headers.add(name: PeerProtocol.fromHeader, value: fromHeader)
        if let peerURLsHeader { headers.add(name: PeerProtocol.peerURLsHeader, value: peerURLsHeader) }
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: PeerProtocol.batchPath, headers: headers)
        let promise = eventLoop.makePromise(of: HTTPClientResponse.self)
        let request = PendingRequest(head: head, body: body, consumer: .collect(promise), endpoint: endpoint,
                                     limit: 64 * 1024)
        inFlight += 1
        let timer = eventLoop.scheduleTask(in: Self.requestTimeout) {
            promise.fail(HTTPClientError.timedOut(endpoint, seconds: Double(Self.requestTimeout.nanoseconds) / 1e9))
            channel.close(promise: nil)
        }
        channel.writeAndFlush(request).whenFailure { _ in promise.fail(HTTPClientError.connectionClosed(endpoint)) }
        promise.futureResult.whenComplete { result in
            timer.cancel()
            self.inFlight -= 1
            switch result {
            case .success(let response) where response.status == .noContent || response.status == .ok:
                self.failing = false
                if let report = self.streak.succeeded(at: .now()) { self.transport?.log(report, peer: self.peer, error: nil) }
            case .success(let response):
                let error: PeerTransportError = response.status == .preconditionFailed
                    ? .clusterMismatch(peer: self.peer, endpoint: endpoint, detail: response.bodyString)
                    : .rejected(peer: self.peer, endpoint: endpoint, status: response.status.code,
                                detail: response.bodyString)
                self.failed(error)
            case .failure(let error):
                if self.channel === channel {
                    channel.close(promise: nil)
                    self.channel = nil
                }
                self.failed(error)
            }
            self.pump()
        }
    }

    private func connect(to endpoint: HTTPEndpoint) {
        connecting = true
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(Self.requestTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTPClientHandler())
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
            case .failure(let error):
                // Nothing can go out on this connection: drop what is queued (Raft retransmits).
                self.lock.withLock { self.queue.removeAll(keepingCapacity: true) }
                self.failed(HTTPClientError.connectFailed(endpoint, reason: String(describing: error)))
            }
            self.pump()
        }
    }

    /// Reports a failed batch (every one, so Raft can slow down probing), tries the next endpoint,
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
