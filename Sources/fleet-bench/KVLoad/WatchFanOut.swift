import Foundation
import KV
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Many long-poll watchers on one key and one writer: how fast does every event reach every watcher?
///
/// The writer PUTs one event, waits until every watcher has it (or 5 s pass), then writes the next,
/// so each delivery latency is measured from the PUT being sent to the watcher's response.
enum WatchFanOut {
    struct Result {
        var deliveriesPerSecond: Double
        var latency: LatencySummary
        var missed: Int
    }

    static func run(endpoints: [(host: String, port: Int)], watchers: Int, events: Int, value: String) async throws -> Result {
        let client = HTTPClient(maxIdlePerEndpoint: watchers + 8)
        defer { client.shutdown() }
        let eps = endpoints.map { HTTPEndpoint.tcp(host: $0.host, port: $0.port) }
        let key = "/v2/keys/bench/watched"
        var form = HTTPHeaders()
        form.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let first = try await client.execute(.PUT, eps[0], key, headers: form, body: ByteBuffer(string: "value=start"))
        guard var index = modifiedIndex(first.bodyString) else {
            throw BenchError("unexpected PUT response: \(first.status) \(first.bodyString)")
        }
        let received = NIOLockedValueBox([UInt64: [UInt64]]())  // index -> receive times (ns)
        let start = ContinuousClock.now
        @Sendable func nanos() -> UInt64 {
            let d = (ContinuousClock.now - start).components
            return UInt64(d.seconds) * 1_000_000_000 + UInt64(d.attoseconds / 1_000_000_000)
        }

        let firstIndex = index
        let watcherTasks = (0..<watchers).map { w in
            Task {
                var next = firstIndex + 1
                while !Task.isCancelled {
                    let ep = eps[w % eps.count]
                    guard let r = try? await client.execute(.GET, ep, "\(key)?wait=true&waitIndex=\(next)", timeout: 30),
                          let got = modifiedIndex(r.bodyString) else { continue }
                    let t = nanos()
                    received.withLockedValue { $0[got, default: []].append(t) }
                    next = got + 1
                }
            }
        }
        // Give watchers time to connect before the first event.
        try await Task.sleep(for: .milliseconds(500))
        var latencies: [UInt64] = []
        var missed = 0
        let writeStart = nanos()
        for i in 0..<events {
            let sent = nanos()
            let r = try await client.execute(.PUT, eps[0], key, headers: form, body: ByteBuffer(string: "value=\(value.prefix(32))\(i)"))
            guard let idx = modifiedIndex(r.bodyString) else { throw BenchError("PUT failed: \(r.bodyString)") }
            index = idx
            let deadline = ContinuousClock.now + .seconds(5)
            while received.withLockedValue({ $0[idx]?.count ?? 0 }) < watchers, ContinuousClock.now < deadline {
                try await Task.sleep(for: .microseconds(200))
            }
            let times = received.withLockedValue { $0[idx] ?? [] }
            missed += watchers - times.count
            latencies += times.map { $0 >= sent ? $0 - sent : 0 }
        }
        let elapsed = Double(nanos() - writeStart) / 1e9
        for t in watcherTasks { t.cancel() }
        return Result(deliveriesPerSecond: Double(latencies.count) / elapsed, latency: LatencySummary(latencies), missed: missed)
    }

    /// The node's modifiedIndex in a v2 response.
    static func modifiedIndex(_ json: String) -> UInt64? {
        guard let node = json.range(of: "\"node\":") else { return nil }
        guard let r = json.range(of: "\"modifiedIndex\":", range: node.upperBound..<json.endIndex) else { return nil }
        let digits = json[r.upperBound...].prefix { $0.isNumber }
        return UInt64(digits)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
