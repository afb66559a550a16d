import NIOCore
import NIOHTTP1

/// Serves the peer protocol's POSTs: checks the cluster ID and hands frames to the member.
///
/// A member of another cluster gets 412 with both cluster IDs, so misconfigured members refuse
/// each other instead of mixing logs.
public struct PeerReceiver: Sendable {
    public let clusterID: UInt64
    /// Called with the sender's ID and its frames, in arrival order.
    public let onFrames: @Sendable (UInt64, [[UInt8]]) -> Void
    /// Called with a snapshot body; return after it is stored.
    public let onSnapshot: @Sendable (UInt64, ByteBuffer) async throws -> Void

    public init(clusterID: UInt64, onFrames: @escaping @Sendable (UInt64, [[UInt8]]) -> Void,
                onSnapshot: @escaping @Sendable (UInt64, ByteBuffer) async throws -> Void) {
        self.clusterID = clusterID
        self.onFrames = onFrames
        self.onSnapshot = onSnapshot
    }

    /// The longest frame a stream may carry: a Raft message, which may hold a whole snapshot of
    /// the store (as the peer listener's body limit allowed when frames came in requests).
    public static let maxFrameBytes = 1 << 30

    /// Whether `request` is a snapshot for this receiver (the peer listener also serves other paths).
    public func handles(_ request: HTTPRequest) -> Bool {
        request.method == .POST && request.rawPath == PeerProtocol.snapshotPath
    }

    /// Whether `request` opens a peer stream (see ``acceptStream(_:)``).
    public func handlesStream(_ request: HTTPRequest) -> Bool {
        request.method == .POST && request.rawPath == PeerProtocol.streamPath
    }

    /// Takes a peer stream: its frames go to `onFrames` as they arrive, with no answer while the
    /// stream lasts. A sender of another cluster, a missing header or a malformed frame is refused
    /// and the connection closes.
    public func acceptStream(_ request: HTTPRequest) -> HTTPRequestStream {
        if let refusal = check(request) { return .refuse(refusal.response) }
        return .accept(StreamConsumer(sender: refusalFreeSender(request), onFrames: onFrames))
    }

    /// Decodes one peer stream (confined to its connection's event loop).
    private final class StreamConsumer: HTTPRequestBodyConsumer {
        let sender: UInt64
        let onFrames: @Sendable (UInt64, [[UInt8]]) -> Void
        var decoder = PeerStreamDecoder(maxFrameBytes: PeerReceiver.maxFrameBytes)

        init(sender: UInt64, onFrames: @escaping @Sendable (UInt64, [[UInt8]]) -> Void) {
            self.sender = sender
            self.onFrames = onFrames
        }

        func consume(_ part: ByteBuffer) -> HTTPResponse? {
            do {
                let frames = try decoder.feed(part)
                if !frames.isEmpty { onFrames(sender, frames) }
                return nil
            } catch {
                return Self.malformed(error)
            }
        }

        func end() -> HTTPResponse {
            do {
                try decoder.finish()
                return HTTPResponse(status: .noContent)
            } catch {
                return Self.malformed(error)
            }
        }

        private static func malformed(_ error: PeerStreamDecoder.Failure) -> HTTPResponse {
            HTTPResponse(status: .badRequest, contentType: "text/plain", text: "malformed peer stream: \(error)\n")
        }
    }

    /// Stores a snapshot sent as one body (`PeerProtocol.snapshotPath`).
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        if let refusal = check(request) { return refusal.response }
        do {
            try await onSnapshot(refusalFreeSender(request), request.body)
            return HTTPResponse(status: .noContent)
        } catch {
            return HTTPResponse(status: .internalServerError, contentType: "text/plain", text: "snapshot not stored: \(error)\n")
        }
    }

    private struct Refusal { var response: HTTPResponse }

    private func check(_ request: HTTPRequest) -> Refusal? {
        guard let cluster = request.headers.first(name: PeerProtocol.clusterHeader).flatMap({ UInt64($0, radix: 16) }),
              request.headers.first(name: PeerProtocol.fromHeader).flatMap({ UInt64($0, radix: 16) }) != nil else {
            return Refusal(response: HTTPResponse(status: .badRequest, contentType: "text/plain",
                                                  text: "missing or malformed cluster or sender header\n"))
        }
        guard cluster == clusterID else {
            return Refusal(response: HTTPResponse(
                status: .preconditionFailed, contentType: "text/plain",
                text: "cluster ID mismatch: this member belongs to \(PeerProtocol.hex(clusterID)), the sender to \(PeerProtocol.hex(cluster))\n"))
        }
        return nil
    }

    private func refusalFreeSender(_ request: HTTPRequest) -> UInt64 {
        request.headers.first(name: PeerProtocol.fromHeader).flatMap { UInt64($0, radix: 16) } ?? 0
    }
}
