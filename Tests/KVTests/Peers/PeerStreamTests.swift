#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Testing
import TestSupport
@testable import KV

/// The peer stream: frames read back from a body cut anywhere, and refusals of bad streams.
@Suite struct PeerStreamTests {
    let frames: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 7, count: 1000), [9]]

    /// Feeds `wire` to a decoder in parts cut at `cuts` and returns every frame it produced.
    func decode(_ wire: [UInt8], cuts: [Int], limit: Int = 1 << 20) throws -> [[UInt8]] {
        var decoder = PeerStreamDecoder(maxFrameBytes: limit)
        var out: [[UInt8]] = []
        var start = 0
        for cut in cuts + [wire.count] where cut >= start {
            out += try decoder.feed(ByteBuffer(bytes: wire[start..<cut]))
            start = cut
        }
        try decoder.finish()
        return out
    }

    @Test func framesComeBackWhereverTheBodyIsCut() throws {
        let wire = Array(buffer: PeerFrames.encode(frames))
        #expect(try decode(wire, cuts: []) == frames)
        #expect(try decode(wire, cuts: Array(1..<wire.count)) == frames, "one byte at a time")
        var rng = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let cuts = (0..<Int.random(in: 1...6, using: &rng)).map { _ in Int.random(in: 0...wire.count, using: &rng) }.sorted()
            #expect(try decode(wire, cuts: cuts) == frames, "cut at \(cuts)")
        }
    }

    @Test func aFrameOverTheLimitAndAStreamEndingInsideAFrameAreRefused() {
        let wire = Array(buffer: PeerFrames.encode([Array(repeating: 1, count: 100)]))
        #expect(throws: PeerStreamDecoder.Failure.frameTooLarge(length: 100, limit: 99)) {
            _ = try decode(wire, cuts: [2], limit: 99)
        }
        #expect(throws: PeerStreamDecoder.Failure.truncated(pendingBytes: 50)) {
            _ = try decode(Array(wire[0..<50]), cuts: [3])
        }
    }

    /// A peer listener on a raw socket: streams are read as they arrive; bad ones are refused.
    func withReceiver(cluster: UInt64, _ body: (Int, FrameSink) throws -> Void) async throws {
        let sink = FrameSink()
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0),
                                                responder: PeerOnlyResponder(receiver: sink.receiver(cluster: cluster)))
        guard case .tcp(_, let port) = server.boundAddress else {
            await server.shutdown()
            Issue.record("server is not on TCP")
            return
        }
        do { try body(port, sink) } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    static func streamHead(cluster: String) -> String {
        "POST /raft/stream HTTP/1.1\r\nHost: x\r\nX-Etcd-Cluster-ID: \(cluster)\r\nX-Server-From: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
    }

    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + Array("\r\n".utf8)
    }

    @Test func framesOfAnOpenStreamArriveBeforeItEnds() async throws {
        try await withReceiver(cluster: 0xabc) { port, sink in
            guard let fd = connectToLoopback(port: port, timeoutSeconds: 10) else { throw ClientAPIFuzzTests.RawError.socket("connect") }
            defer { close(fd) }
            let wire = Array(buffer: PeerFrames.encode(frames))
            // The second frame's length is cut across two chunks.
            let bytes = Array(Self.streamHead(cluster: "abc").utf8) + Self.chunk(Array(wire[0..<9])) + Self.chunk(Array(wire[9...]))
            #expect(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count)
            let deadline = ContinuousClock.now + .seconds(10)
            while sink.frames.withLockedValue({ $0.count }) < frames.count, ContinuousClock.now < deadline {
                usleep(5_000)
            }
            #expect(sink.frames.withLockedValue { $0.map(\.1) } == frames)
            #expect(sink.frames.withLockedValue { $0.allSatisfy { $0.0 == 2 } })
        }
    }

    @Test func aStreamFromAnotherClusterIsRefusedAtItsHead() async throws {
        try await withReceiver(cluster: 0xabc) { port, sink in
            let reply = try ClientAPIFuzzTests.exchange(port: port, Array(Self.streamHead(cluster: "def").utf8))
            #expect(reply.status == 412)
            #expect(reply.text.contains("cluster ID mismatch"))
            #expect(sink.frames.withLockedValue { $0.isEmpty })
        }
    }

    @Test func aFrameLongerThanTheLimitIsRefusedAndTheConnectionCloses() async throws {
        try await withReceiver(cluster: 0xabc) { port, sink in
            let bytes = Array(Self.streamHead(cluster: "abc").utf8) + Self.chunk(Array(buffer: PeerFrames.encode([[1]])))
                + Self.chunk([0xff, 0xff, 0xff, 0xff, 0])
            let reply = try ClientAPIFuzzTests.exchange(port: port, bytes)
            #expect(reply.status == 400)
            #expect(reply.text.contains("larger than the limit"))
            #expect(sink.frames.withLockedValue { $0.map(\.1) } == [[1]], "frames before the bad one were delivered")
        }
    }

    @Test func aStreamSentToAClientURLIsRefusedAtItsHead() async throws {
        let backend = UnreplicatedBackend(name: "c", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"])
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0), responder: ClientAPI(backend: backend))
        guard case .tcp(_, let port) = server.boundAddress else {
            await server.shutdown()
            Issue.record("server is not on TCP")
            return
        }
        let reply = try ClientAPIFuzzTests.exchange(port: port, Array(Self.streamHead(cluster: "abc").utf8))
        await server.shutdown()
        #expect(reply.status == 404)
        #expect(reply.text.contains("this is a client URL"))
    }
}
