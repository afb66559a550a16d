import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Sends frames to the other members of a cluster: one ``PeerSender`` per peer that batches whatever
/// is queued into HTTP requests pipelined over a kept-alive connection.
///
/// Delivery is best effort, as Raft expects: a batch that cannot be delivered is dropped and the
/// peer is reported unreachable (Raft retransmits). Frames to one peer stay in order.
public final class PeerTransport: Sendable {
    public let localID: UInt64
    public let clusterID: UInt64
    /// This member's advertised peer URLs, sent with every request (`PeerProtocol.peerURLsHeader`).
    public let localURLs: [String]
    private let client: HTTPClient
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let senders = NIOLockedValueBox([UInt64: PeerSender]())
    private let unreachableContinuation: AsyncStream<UInt64>.Continuation
    /// Peers whose last batch failed, reported once per failure streak.
    public let unreachable: AsyncStream<UInt64>

    /// Most bytes sent in one batch; more waits for the next request.
    public static let maxBatchBytes = 4 * 1024 * 1024
    /// Most frames queued for a peer; beyond it new frames are dropped.
    public static let maxQueuedFrames = 16 * 1024

    /// `eventLoop` carries every peer's connection; frames sent from it go out without a thread hop.
    public init(localID: UInt64, clusterID: UInt64, localURLs: [String] = [], client: HTTPClient = HTTPClient(),
                logger: Logger = Logger(label: "kv.peers"),
                eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.eventLoop = eventLoop
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
                    senders[id] = PeerSender(peer: id, endpoints: endpoints, transport: self, eventLoop: eventLoop)
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
        guard let endpoint = senders.withLockedValue({ $0[peer] })?.currentEndpoint else {
            throw PeerTransportError.unknownPeer(peer)
        }
        try await post(PeerProtocol.snapshotPath, body: data, to: endpoint, peer: peer, timeout: timeout)
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

    /// Tells Raft (``unreachable``) of every failure; logs only what `log` says (``PeerFailureStreak``).
    func reportUnreachable(_ peer: UInt64, _ error: Error, log report: PeerFailureStreak.Report?) {
        if let report { log(report, peer: peer, error: error) }
        unreachableContinuation.yield(peer)
    }

    func log(_ report: PeerFailureStreak.Report, peer: UInt64, error: Error?) {
        var metadata: Logger.Metadata = ["peer": "\(PeerProtocol.hex(peer))"]
        if let error { metadata["error"] = "\(error)" }
        switch report {
        case .unreachable:
            logger.warning("peer unreachable", metadata: metadata)
        case .stillUnreachable(let failures, let since):
            logger.warning("peer still unreachable: \(failures) attempts failed over \(Self.seconds(since)) s", metadata: metadata)
        case .reachableAgain(let failures, let after):
            logger.notice("peer reachable again after \(failures) failed attempts over \(Self.seconds(after)) s", metadata: metadata)
        }
    }

    private static func seconds(_ t: TimeAmount) -> String {
        let tenths = max(0, t.nanoseconds) / 100_000_000
        return "\(tenths / 10).\(tenths % 10)"
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
