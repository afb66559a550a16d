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

    /// Whether this receiver serves `request` (the peer listener also serves other paths).
    public func handles(_ request: HTTPRequest) -> Bool {
        request.method == .POST && (request.rawPath == PeerProtocol.batchPath || request.rawPath == PeerProtocol.snapshotPath)
    }

    /// Answers a batch on the event loop (no task hop); nil for snapshots, which take `respond`.
    public func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        if let refusal = check(request) { return refusal.response }
        guard request.rawPath == PeerProtocol.batchPath else { return nil }
        guard let frames = PeerFrames.decode(request.body) else {
            return HTTPResponse(status: .badRequest, contentType: "text/plain", text: "malformed peer batch\n")
        }
        onFrames(refusalFreeSender(request), frames)
        return HTTPResponse(status: .noContent)
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        if let refusal = check(request) { return refusal.response }
        if request.rawPath == PeerProtocol.batchPath { return respondImmediately(to: request)! }
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
