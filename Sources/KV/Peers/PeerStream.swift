import NIOCore
import NIOHTTP1

/// Splits the body of a peer stream into frames (`PeerFrames`' layout: a 32-bit big-endian
/// length and that many bytes) as it arrives, whatever way the socket cut it.
struct PeerStreamDecoder {
    /// The largest frame accepted; a longer length is a broken or hostile sender.
    let maxFrameBytes: Int
    private var pending: ByteBuffer?

    init(maxFrameBytes: Int) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Why a stream was refused.
    enum Failure: Error, Equatable, CustomStringConvertible {
        case frameTooLarge(length: Int, limit: Int)
        case truncated(pendingBytes: Int)

        var description: String {
            switch self {
            case .frameTooLarge(let length, let limit):
                return "peer frame of \(length) bytes is larger than the limit of \(limit) bytes"
            case .truncated(let n): return "peer stream ended inside a frame (\(n) bytes of it received)"
            }
        }
    }

    /// The whole frames completed by `part`, in order.
    mutating func feed(_ part: ByteBuffer) throws(Failure) -> [[UInt8]] {
        var buffer: ByteBuffer
        if var held = pending {
            pending = nil
            var part = part
            held.writeBuffer(&part)
            buffer = held
        } else {
            buffer = part
        }
        var frames: [[UInt8]] = []
        while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) {
            let n = Int(length)
            guard n <= maxFrameBytes else { throw .frameTooLarge(length: n, limit: maxFrameBytes) }
            guard buffer.readableBytes >= 4 + n else { break }
            buffer.moveReaderIndex(forwardBy: 4)
            frames.append(buffer.readBytes(length: n)!)
        }
        if buffer.readableBytes > 0 {
            // Keep the unread tail. Copied out only when frames were taken from this buffer (so
            // their bytes are released); a large frame arriving in many parts grows in place.
            if !frames.isEmpty || buffer.readerIndex > 0 {
                var tail = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
                tail.writeBuffer(&buffer)
                buffer = tail
            }
            pending = buffer
        }
        return frames
    }

    /// Checks that the stream ended between frames.
    func finish() throws(Failure) {
        if let pending, pending.readableBytes > 0 { throw .truncated(pendingBytes: pending.readableBytes) }
    }
}

/// The sending side's handler on a peer stream's connection: the peer says nothing while it
/// accepts the stream, so any answer is a refusal (or the end of the stream), reported once with
/// its status and body; a closed connection and a change of writability are reported too.
final class PeerStreamClientHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// What ended the stream.
    enum Ending {
        case answered(HTTPResponseStatus, body: String)
        case closed
    }

    private let onEnd: (Ending) -> Void
    private let onWritable: () -> Void
    private var status: HTTPResponseStatus?
    private var body = ""
    private var ended = false

    init(onEnd: @escaping (Ending) -> Void, onWritable: @escaping () -> Void) {
        self.onEnd = onEnd
        self.onWritable = onWritable
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            status = h.status
        case .body(let chunk):
            if body.utf8.count < 4096 { body += String(buffer: chunk) }
        case .end:
            end(.answered(status ?? .internalServerError, body: body), context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { onWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(status.map { .answered($0, body: body) } ?? .closed, context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func end(_ ending: Ending, context: ChannelHandlerContext) {
        guard !ended else { return }
        ended = true
        onEnd(ending)
        context.close(promise: nil)
    }
}
