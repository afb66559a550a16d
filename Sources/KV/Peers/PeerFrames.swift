import NIOCore

/// A chunk of a peer stream: frames, each a 32-bit big-endian length and that many bytes
/// (`PeerStreamDecoder` reads them back).
///
/// The transport moves opaque frames; the Raft message codec lives with the member.
public enum PeerFrames {
    /// Encodes frames into one buffer.
    public static func encode(_ frames: [[UInt8]], allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: frames.reduce(0) { $0 + 4 + $1.count })
        for frame in frames {
            buffer.writeInteger(UInt32(frame.count))
            buffer.writeBytes(frame)
        }
        return buffer
    }
}

/// HTTP paths and headers of the peer protocol.
public enum PeerProtocol {
    /// POST: a stream of frames (`PeerFrames`' layout) in a chunked body that lasts as long as
    /// the connection; the receiver answers only a refusal or the stream's end.
    public static let streamPath = "/raft/stream"
    /// POST: a snapshot, as one body.
    public static let snapshotPath = "/raft/snapshot"
    /// The sender's cluster ID in hex; a member of another cluster is refused (412).
    public static let clusterHeader = "X-Etcd-Cluster-ID"
    /// The sender's member ID in hex.
    public static let fromHeader = "X-Server-From"
    /// The sender's advertised peer URLs, comma-separated (etcd's header): lets a member whose
    /// store does not know the sender yet (restarted behind the log, or joining) answer it.
    public static let peerURLsHeader = "X-PeerURLs"

    static func hex(_ v: UInt64) -> String { String(v, radix: 16) }
}
