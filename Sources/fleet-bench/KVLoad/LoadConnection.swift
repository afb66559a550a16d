import NIOCore
import NIOHTTP1
import NIOPosix

/// One request of a closed-loop load.
struct LoadRequest {
    var method: HTTPMethod
    var uri: String
    var body: ByteBuffer?
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
/// Everything stays on the event loop (no task hops), so the generator spends as little of the
/// machine's 2 cores as possible and measures the server rather than itself.
final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let next: (Int) -> LoadRequest
    private let deadline: NIODeadline
    private let maxRequests: Int
    private let done: EventLoopPromise<LoadSample>
    private var sample = LoadSample()
    private var sentAt: NIODeadline = .now()
    private var count = 0
    private var status: HTTPResponseStatus = .ok
    private let expect: (HTTPResponseStatus) -> Bool

    init(host: String, deadline: NIODeadline, maxRequests: Int, expect: @escaping (HTTPResponseStatus) -> Bool,
         done: EventLoopPromise<LoadSample>, next: @escaping (Int) -> LoadRequest) {
        self.host = host
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
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        if let body = request.body {
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: headers)
        sentAt = .now()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): status = h.status
        case .body: break
        case .end:
            let now = NIODeadline.now()
            if expect(status) {
                sample.latencies.append(UInt64(max((now - sentAt).nanoseconds, 0)))
            } else {
                sample.failures += 1
                if sample.firstFailure == nil { sample.firstFailure = "HTTP \(status.code)" }
            }
            if now < deadline && count < maxRequests {
                send(context: context)
            } else {
                done.succeed(sample)
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        sample.failures += 1
        if sample.firstFailure == nil { sample.firstFailure = "connection closed" }
        done.succeed(sample)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if sample.firstFailure == nil { sample.firstFailure = "\(error)" }
        context.close(promise: nil)
    }
}

/// Runs `connections` closed-loop connections against `endpoints` (spread round-robin) until
/// `seconds` pass or `maxRequests` requests per connection are done.
enum ClosedLoopLoad {
    static func run(endpoints: [(host: String, port: Int)], connections: Int, seconds: Double, maxRequests: Int = .max,
                    expect: @escaping @Sendable (HTTPResponseStatus) -> Bool = { $0.code < 300 },
                    request: @escaping @Sendable (_ connection: Int, _ n: Int) -> LoadRequest) async throws -> (LoadSample, Double) {
        let group = MultiThreadedEventLoopGroup.singleton
        let start = NIODeadline.now()
        let deadline = start + .nanoseconds(Int64(seconds * 1e9))
        var futures: [EventLoopFuture<LoadSample>] = []
        for c in 0..<connections {
            let endpoint = endpoints[c % endpoints.count]
            let loop = group.next()
            let done = loop.makePromise(of: LoadSample.self)
            let bootstrap = ClientBootstrap(group: loop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(LoadConnectionHandler(
                            host: "\(endpoint.host):\(endpoint.port)", deadline: deadline, maxRequests: maxRequests,
                            expect: expect, done: done, next: { n in request(c, n) }))
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
