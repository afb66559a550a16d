import NIOConcurrencyHelpers
import NIOCore
import Testing
import TestSupport
@testable import KV

/// A responder that serves only the peer protocol.
struct PeerOnlyResponder: HTTPResponder {
    let receiver: PeerReceiver
    func streamRequest(_ request: HTTPRequest) -> HTTPRequestStream? {
        receiver.handlesStream(request) ? receiver.acceptStream(request) : nil
    }
    func respond(to request: HTTPRequest) async -> HTTPResponse { await receiver.respond(to: request) }
}

final class FrameSink: Sendable {
    let frames = NIOLockedValueBox([(UInt64, [UInt8])]())
    let snapshots = NIOLockedValueBox([Int]())
    func receiver(cluster: UInt64) -> PeerReceiver {
        PeerReceiver(clusterID: cluster, onFrames: { from, batch in
            self.frames.withLockedValue { $0.append(contentsOf: batch.map { (from, $0) }) }
        }, onSnapshot: { _, body in
            self.snapshots.withLockedValue { $0.append(body.readableBytes) }
        })
    }
}

@Suite struct PeerTransportTests {
    @Test func framesArriveInOrderFromThePeer() async throws {
        let sink = FrameSink()
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0),
                                                responder: PeerOnlyResponder(receiver: sink.receiver(cluster: 0xabc)))
        defer { Task { await server.shutdown() } }
        guard case .tcp(_, let port) = server.boundAddress else { return }
        let transport = PeerTransport(localID: 1, clusterID: 0xabc)
        defer { transport.shutdown() }
        transport.setPeers([1: [], 2: [.tcp(host: "127.0.0.1", port: port)]])
        for i in 0..<2000 {
            transport.send([[UInt8(i & 0xff), UInt8(i >> 8)]], to: 2)
        }
        try await waitUntil { sink.frames.withLockedValue { $0.count } == 2000 }
        let got = sink.frames.withLockedValue { $0 }
        #expect(got.allSatisfy { $0.0 == 1 })
        #expect(got.map { Int($0.1[0]) | Int($0.1[1]) << 8 } == Array(0..<2000))

        try await transport.sendSnapshot(ByteBuffer(bytes: Array(repeating: 9, count: 300_000)), to: 2)
        #expect(sink.snapshots.withLockedValue { $0 } == [300_000])
    }

    @Test func membersOfAnotherClusterAreRefused() async throws {
        let sink = FrameSink()
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0),
                                                responder: PeerOnlyResponder(receiver: sink.receiver(cluster: 0xabc)))
        defer { Task { await server.shutdown() } }
        guard case .tcp(_, let port) = server.boundAddress else { return }
        let stranger = PeerTransport(localID: 1, clusterID: 0xdef)
        defer { stranger.shutdown() }
        stranger.setPeers([2: [.tcp(host: "127.0.0.1", port: port)]])
        do {
            try await stranger.sendSnapshot(ByteBuffer(string: "x"), to: 2)
            Issue.record("a member of another cluster was accepted")
        } catch let error as PeerTransportError {
            #expect(String(describing: error).contains("another cluster"))
        }
        stranger.send([[1]], to: 2)
        var it = stranger.unreachable.makeAsyncIterator()
        #expect(await it.next() == 2)
        #expect(sink.frames.withLockedValue { $0.isEmpty })
    }

    @Test func deadPeerIsReportedAndRecoveryDelivers() async throws {
        let transport = PeerTransport(localID: 1, clusterID: 5)
        defer { transport.shutdown() }
        // Nothing listens on this port yet.
        let port = freeLoopbackPort()
        transport.setPeers([2: [.tcp(host: "127.0.0.1", port: port)]])
        transport.send([[1]], to: 2)
        var it = transport.unreachable.makeAsyncIterator()
        #expect(await it.next() == 2)

        let sink = FrameSink()
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: port),
                                                responder: PeerOnlyResponder(receiver: sink.receiver(cluster: 5)))
        defer { Task { await server.shutdown() } }
        try await waitUntil {
            transport.send([[2]], to: 2)
            return !sink.frames.withLockedValue { $0.isEmpty }
        }
    }
}

/// Polls `condition` every 10 ms for up to `seconds`; fails the test when it never holds.
func waitUntil(seconds: Double = 60, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not met within \(seconds) s")
}

@Suite struct PeerTransportRestartTests {
    @Test func deliveryResumesAfterThePeerRestartsOnTheSamePort() async throws {
        let sink1 = FrameSink()
        let port = freeLoopbackPort()
        let server1 = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: port),
                                                 responder: PeerOnlyResponder(receiver: sink1.receiver(cluster: 7)))
        let transport = PeerTransport(localID: 1, clusterID: 7)
        defer { transport.shutdown() }
        transport.setPeers([2: [.tcp(host: "127.0.0.1", port: port)]])
        transport.send([[1]], to: 2)
        try await waitUntil { !sink1.frames.withLockedValue { $0.isEmpty } }
        await server1.shutdown()
        for _ in 0..<20 {
            transport.send([[2]], to: 2)
            try await Task.sleep(for: .milliseconds(20))
        }
        let sink2 = FrameSink()
        var started: HTTPServer?
        // Another process on this machine may hold the port for a moment; try for a few seconds.
        for _ in 0..<50 where started == nil {
            started = try? await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: port),
                                                  responder: PeerOnlyResponder(receiver: sink2.receiver(cluster: 7)))
            if started == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let server2 = try #require(started)
        defer { Task { await server2.shutdown() } }
        try await waitUntil {
            transport.send([[3]], to: 2)
            return sink2.frames.withLockedValue { $0.contains { $0.1 == [3] } }
        }
    }
}

/// A dead peer is logged once when it fails, then every 30 s with the count, and once when it is back,
/// not on every retry (10 a second).
@Suite struct PeerFailureStreakTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func onlyTheFirstFailureOfAStreakIsLoggedAtOnce() {
        var streak = PeerFailureStreak()
        #expect(streak.failed(at: t0) == .unreachable)
        for i in 1...299 {
            #expect(streak.failed(at: t0 + .milliseconds(Int64(i) * 100)) == nil, "retry \(i)")
        }
        #expect(streak.failed(at: t0 + .seconds(30)) == .stillUnreachable(failures: 301, since: .seconds(30)))
        #expect(streak.failed(at: t0 + .seconds(31)) == nil)
        #expect(streak.succeeded(at: t0 + .seconds(32)) == .reachableAgain(failures: 302, after: .seconds(32)))
    }

    @Test func aNewStreakStartsOverAndSuccessesAloneLogNothing() {
        var streak = PeerFailureStreak()
        #expect(streak.succeeded(at: t0) == nil)
        #expect(streak.failed(at: t0) == .unreachable)
        #expect(streak.succeeded(at: t0 + .milliseconds(100)) == .reachableAgain(failures: 1, after: .milliseconds(100)))
        #expect(streak.succeeded(at: t0 + .milliseconds(200)) == nil)
        #expect(streak.failed(at: t0 + .seconds(1)) == .unreachable, "a failure after a recovery is news again")
    }
}
