import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Sends frames to the other members of a cluster: one sender per peer that batches whatever is
/// queued into one HTTP request at a time over a kept-alive connection.
///
/// Delivery is best effort, as Raft expects: a batch that cannot be delivered is dropped and the
/// peer is reported unreachable (Raft retransmits). Frames to one peer stay in order.
public final class PeerTransport: Sendable {
    public let localID: UInt64
    public let clusterID: UInt64
    /// This member's advertised peer URLs, sent with every request (`PeerProtocol.peerURLsHeader`).
    public let localURLs: [String]
    private let client: HTTPClient
    private let logger: Logger
    private let senders = NIOLockedValueBox([UInt64: PeerSender]())
    private let unreachableContinuation: AsyncStream<UInt64>.Continuation
    /// Peers whose last batch failed, reported once per failure streak.
    public let unreachable: AsyncStream<UInt64>

    /// Most bytes sent in one batch; more waits for the next request.
    public static let maxBatchBytes = 4 * 1024 * 1024
    /// Most frames queued for a peer; beyond it new frames are dropped.
    public static let maxQueuedFrames = 16 * 1024

    public init(localID: UInt64, clusterID: UInt64, localURLs: [String] = [], client: HTTPClient = HTTPClient(),
                logger: Logger = Logger(label: "kv.peers")) {
        self.localID = localID
        self.clusterID = clusterID
        self.localURLs = localURLs
        self.client = client
        self.logger = logger
        (unreachable, unreachableContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    /// Sets the peers and their URLs (membership changes add and remove peers).
    public func setPeers(_ peers: [UInt64: [HTTPEndpoint]]) {
        let stale = senders.withLockedValue { senders -> [PeerSender] in
            var removed: [PeerSender] = []
            for (id, sender) in senders where peers[id] == nil || id == localID {
                removed.append(sender)
                senders[id] = nil
            }
            for (id, endpoints) in peers where id != localID {
                if let existing = senders[id] {
                    existing.setEndpoints(endpoints)
                } else {
                    senders[id] = PeerSender(peer: id, endpoints: endpoints, transport: self)
                }
            }
            return removed
        }
        for sender in stale { sender.stop() }
    }

    /// Queues frames for `peer`; returns at once.
    public func send(_ frames: [[UInt8]], to peer: UInt64) {
        guard let sender = senders.withLockedValue({ $0[peer] }) else { return }
        sender.enqueue(frames)
    }

    /// Sends a snapshot to `peer` as one request and waits for it to be accepted.
    public func sendSnapshot(_ data: ByteBuffer, to peer: UInt64, timeout: Double = 120) async throws {
        guard let sender = senders.withLockedValue({ $0[peer] }) else {
            throw PeerTransportError.unknownPeer(peer)
        }
        try await post(PeerProtocol.snapshotPath, body: data, to: sender.currentEndpoint, peer: peer, timeout: timeout)
    }

    /// Stops every sender.
    public func shutdown() {
        let all = senders.withLockedValue { s -> [PeerSender] in defer { s.removeAll() }; return Array(s.values) }
        for sender in all { sender.stop() }
        unreachableContinuation.finish()
    }

    func post(_ path: String, body: ByteBuffer, to endpoint: HTTPEndpoint, peer: UInt64, timeout: Double) async throws {
        var headers = HTTPHeaders()
        headers.add(name: PeerProtocol.clusterHeader, value: PeerProtocol.hex(clusterID))
        headers.add(name: PeerProtocol.fromHeader, value: PeerProtocol.hex(localID))
        if !localURLs.isEmpty { headers.add(name: PeerProtocol.peerURLsHeader, value: localURLs.joined(separator: ",")) }
        headers.add(name: "Content-Type", value: "application/octet-stream")
        let response = try await client.execute(.POST, endpoint, path, headers: headers, body: body, timeout: timeout)
        switch response.status {
        case .noContent, .ok: return
        case .preconditionFailed:
            throw PeerTransportError.clusterMismatch(peer: peer, endpoint: endpoint, detail: response.bodyString)
        default:
            throw PeerTransportError.rejected(peer: peer, endpoint: endpoint, status: response.status.code,
                                              detail: response.bodyString)
        }
    }

    func reportUnreachable(_ peer: UInt64, _ error: Error) {
        logger.warning("peer unreachable", metadata: ["peer": "\(PeerProtocol.hex(peer))", "error": "\(error)"])
        unreachableContinuation.yield(peer)
    }
}

/// Failures of the peer transport, naming the peer.
public enum PeerTransportError: Error, CustomStringConvertible {
    case unknownPeer(UInt64)
    case clusterMismatch(peer: UInt64, endpoint: HTTPEndpoint, detail: String)
    case rejected(peer: UInt64, endpoint: HTTPEndpoint, status: UInt, detail: String)

    public var description: String {
        switch self {
        case .unknownPeer(let p): return "no peer \(PeerProtocol.hex(p)) is known"
        case .clusterMismatch(let p, let e, let d):
            return "peer \(PeerProtocol.hex(p)) at \(e) belongs to another cluster: \(d)"
        case .rejected(let p, let e, let s, let d):
            return "peer \(PeerProtocol.hex(p)) at \(e) refused the request (\(s)): \(d)"
        }
    }
}

/// The queue and sending loop for one peer.
final class PeerSender: Sendable {
    private struct State {
        var queue: [[UInt8]] = []
        var endpoints: [HTTPEndpoint]
        var endpointIndex = 0
        var waiter: CheckedContinuation<Void, Never>?
        var stopped = false
        var failing = false
    }

    let peer: UInt64
    private let state: NIOLockedValueBox<State>
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    init(peer: UInt64, endpoints: [HTTPEndpoint], transport: PeerTransport) {
        self.peer = peer
        self.state = NIOLockedValueBox(State(endpoints: endpoints))
        let t = Task { [weak transport] in
            while let transport, let batch = await self.nextBatch() {
                let endpoint = self.currentEndpoint
                do {
                    try await transport.post(PeerProtocol.batchPath, body: PeerFrames.encode(batch), to: endpoint,
                                             peer: self.peer, timeout: 5)
                    self.state.withLockedValue { $0.failing = false }
                } catch {
                    let first = self.state.withLockedValue { s -> Bool in
                        defer { s.failing = true }
                        if s.endpoints.count > 1 { s.endpointIndex = (s.endpointIndex + 1) % s.endpoints.count }
                        return !s.failing
                    }
                    // Report every failed batch so Raft can slow down probing; pause briefly
                    // after the first so a dead peer does not spin this loop.
                    transport.reportUnreachable(self.peer, error)
                    if !first { try? await Task.sleep(for: .milliseconds(100)) }
                }
            }
        }
        task.withLockedValue { $0 = t }
    }

    var currentEndpoint: HTTPEndpoint {
        state.withLockedValue { $0.endpoints[$0.endpointIndex % max($0.endpoints.count, 1)] }
    }

    func setEndpoints(_ endpoints: [HTTPEndpoint]) {
        state.withLockedValue {
            $0.endpoints = endpoints
            $0.endpointIndex = 0
        }
    }

    func enqueue(_ frames: [[UInt8]]) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            guard !s.stopped else { return nil }
            let room = PeerTransport.maxQueuedFrames - s.queue.count
            s.queue.append(contentsOf: frames.prefix(max(room, 0)))
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func stop() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            s.stopped = true
            s.queue.removeAll()
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
        task.withLockedValue { $0?.cancel() }
    }

    /// Waits until frames are queued and takes up to `maxBatchBytes` of them; nil once stopped.
    private func nextBatch() async -> [[UInt8]]? {
        while true {
            enum Step { case batch([[UInt8]]), stop, wait }
            let step = state.withLockedValue { s -> Step in
                if s.stopped { return .stop }
                guard !s.queue.isEmpty else { return .wait }
                var bytes = 0
                var n = 0
                while n < s.queue.count, n == 0 || bytes + s.queue[n].count <= PeerTransport.maxBatchBytes {
                    bytes += s.queue[n].count
                    n += 1
                }
                let batch = Array(s.queue[0..<n])
                s.queue.removeFirst(n)
                return .batch(batch)
            }
            switch step {
            case .batch(let b): return b
            case .stop: return nil
            case .wait:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLockedValue { s -> Bool in
                        if s.stopped || !s.queue.isEmpty { return true }
                        s.waiter = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            }
        }
    }
}
