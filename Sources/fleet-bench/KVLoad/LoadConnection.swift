import NIOCore
import NIOHTTP1
import NIOPosix

/// One request of a closed-loop load, encoded once as the exact bytes sent on the wire.
///
/// Requests are built before the run (one per key and endpoint), so sending costs a buffer
/// reference and a write, not header formatting per request.
struct LoadRequest {
    var bytes: ByteBuffer

    init(method: HTTPMethod, uri: String, body: ByteBuffer? = nil, host: String) {
        var head = "\(method.rawValue) \(uri) HTTP/1.1\r\nHost: \(host)\r\n"
        if let body {
            head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.readableBytes)\r\n"
        }
        head += "\r\n"
        var bytes = ByteBuffer(string: head)
        if var body { bytes.writeBuffer(&body) }
        self.bytes = bytes
    }
}

/// Latencies (in nanoseconds) and failures one connection observed.
struct LoadSample: Sendable {
    var latencies: [UInt64] = []
    var failures = 0
    var firstFailure: String?
}

/// Drives one keep-alive connection in a closed loop on its event loop: send, wait for the
/// whole response, record the latency, send the next, until the deadline.
///
/// The connection speaks HTTP/1.1 bytes directly (pre-encoded requests, `HTTPResponseScanner`
/// for the answers) and stays on the event loop (no task hops). The load generator shares the
/// machine's 2 cores with the servers it measures, and whatever CPU it spends per request is
/// added to both sides' cost alike, which pulls every ratio towards 1: NIO's HTTP client
/// handlers cost about 25 µs per request here, this about a third of that.
final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let next: (Int) -> ByteBuffer
    private let deadline: NIODeadline
    private let maxRequests: Int
    private let done: EventLoopPromise<LoadSample>
    private var sample = LoadSample()
    private var sentAt: NIODeadline = .now()
    private var count = 0
    private var scanner = HTTPResponseScanner()
    private var finished = false
    private let expect: (Int) -> Bool

    init(deadline: NIODeadline, maxRequests: Int, expect: @escaping (Int) -> Bool,
         done: EventLoopPromise<LoadSample>, next: @escaping (Int) -> ByteBuffer) {
        self.deadline = deadline
        self.maxRequests = maxRequests
        self.expect = expect
        self.done = done
        self.next = next
        sample.latencies.reserveCapacity(min(maxRequests, 1 << 20))
    }

    func channelActive(context: ChannelHandlerContext) {
        // Bounded in time even if the server stops answering: close 10 s after the deadline.
        let channel = context.channel
        context.eventLoop.scheduleTask(deadline: deadline + .seconds(10)) { channel.close(promise: nil) }
        send(context: context)
        context.fireChannelActive()
    }

    private func send(context: ChannelHandlerContext) {
        let request = next(count)
        count += 1
        sentAt = .now()
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        do {
            while let status = try scanner.next(&bytes) {
                let now = NIODeadline.now()
                if expect(status) {
                    sample.latencies.append(UInt64(max((now - sentAt).nanoseconds, 0)))
                } else {
                    sample.failures += 1
                    if sample.firstFailure == nil { sample.firstFailure = "HTTP \(status)" }
                }
                if now < deadline && count < maxRequests {
                    send(context: context)
                } else {
                    finish(context: context)
                    return
                }
            }
        } catch {
            if sample.firstFailure == nil { sample.firstFailure = "\(error)" }
            sample.failures += 1
            finish(context: context)
        }
    }

    private func finish(context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        done.succeed(sample)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard !finished else { return }
        sample.failures += 1
        if sample.firstFailure == nil { sample.firstFailure = "connection closed" }
        finished = true
        done.succeed(sample)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if sample.firstFailure == nil { sample.firstFailure = "\(error)" }
        context.close(promise: nil)
    }
}

/// Runs `connections` closed-loop connections against `endpoints` (spread round-robin) until
/// `seconds` pass or `maxRequests` requests per connection are done.
///
/// `build(i, host)` encodes request `i` of `requestCount` for one endpoint before the run starts;
/// `pick(connection, n)` chooses which of them the connection's `n`th request is.
enum ClosedLoopLoad {
    static func run(group: EventLoopGroup, endpoints: [(host: String, port: Int)], connections: Int, seconds: Double,
                    maxRequests: Int = .max,
                    expect: @escaping @Sendable (Int) -> Bool = { $0 < 300 },
                    requestCount: Int, build: (_ i: Int, _ host: String) -> LoadRequest,
                    pick: @escaping @Sendable (_ connection: Int, _ n: Int) -> Int) async throws -> (LoadSample, Double) {
        let tables = endpoints.map { endpoint in
            RequestTable(buffers: (0..<requestCount).map { build($0, "\(endpoint.host):\(endpoint.port)").bytes })
        }
        let start = NIODeadline.now()
        let deadline = start + .nanoseconds(Int64(seconds * 1e9))
        var futures: [EventLoopFuture<LoadSample>] = []
        for c in 0..<connections {
            let endpoint = endpoints[c % endpoints.count]
            let table = tables[c % endpoints.count]
            let loop = group.next()
            let done = loop.makePromise(of: LoadSample.self)
            let bootstrap = ClientBootstrap(group: loop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LoadConnectionHandler(
                            deadline: deadline, maxRequests: maxRequests, expect: expect, done: done,
                            next: { n in table.buffers[pick(c, n)] }))
                    }
                }
            bootstrap.connect(host: endpoint.host, port: endpoint.port).whenFailure { error in done.fail(error) }
            futures.append(done.futureResult)
        }
        var total = LoadSample()
        for f in futures {
            let s = try await f.get()
            total.latencies += s.latencies
            total.failures += s.failures
            total.firstFailure = total.firstFailure ?? s.firstFailure
        }
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        return (total, elapsed)
    }
}

/// The pre-encoded requests of one endpoint, shared read-only by its connections.
private final class RequestTable: Sendable {
    let buffers: [ByteBuffer]
    init(buffers: [ByteBuffer]) { self.buffers = buffers }
}

/// Percentiles of a latency sample, in milliseconds.
struct LatencySummary: CustomStringConvertible {
    var count: Int
    var p50: Double
    var p99: Double

    init(_ latencies: [UInt64]) {
        let sorted = latencies.sorted()
        count = sorted.count
        func pct(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
        }
        p50 = pct(0.5)
        p99 = pct(0.99)
    }

    var description: String { "p50 \(fmt(p50)) ms, p99 \(fmt(p99)) ms" }
}

func fmt(_ v: Double, _ digits: Int = 3) -> String {
    guard v.isFinite else { return "-" }
    var s = String(Int((v * pow10(digits)).rounded()))
    while s.count <= digits { s = "0" + s }
    let i = s.index(s.endIndex, offsetBy: -digits)
    return digits == 0 ? s : s[..<i] + "." + s[i...]
}

private func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { r, _ in r * 10 } }
