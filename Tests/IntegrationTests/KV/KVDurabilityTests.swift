#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// kill -9 of members during write load: every acknowledged write is on every member afterwards.
@Suite(.serialized) struct KVDurabilityTests {
    @Test func acknowledgedWritesSurviveKillNine() async throws {
        let cluster = try KVProcessCluster(size: 3, snapshotCount: 300)
        defer { cluster.shutdown() }
        try cluster.waitHealthy()
        let client = HTTPClient()
        defer { client.shutdown() }
        let acknowledged = NIOLockedValueBox([String: String]())
        let endpoints = cluster.clientPorts.map { HTTPEndpoint.tcp(host: "127.0.0.1", port: $0) }

        // Four writers spread over the members, each with its own keys, for about 4 s.
        let writers = (0..<4).map { w in
            Task {
                var n = 0
                let deadline = ContinuousClock.now + .seconds(4)
                while ContinuousClock.now < deadline {
                    let key = "/durable/w\(w)-\(n)"
                    var h = HTTPHeaders()
                    h.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                    let ep = endpoints[(w + n) % endpoints.count]
                    if let r = try? await client.execute(.PUT, ep, "/v2/keys\(key)", headers: h,
                                                         body: ByteBuffer(string: "value=\(n)"), timeout: 3),
                       r.status.code < 300 {
                        acknowledged.withLockedValue { $0[key] = String(n) }
                    }
                    n += 1
                }
            }
        }
        // Kill a member (SIGKILL) mid-load, then another after the first is back.
        try await Task.sleep(for: .milliseconds(1000))
        cluster.kill(0)
        try await Task.sleep(for: .milliseconds(800))
        try cluster.start(0)
        try await Task.sleep(for: .milliseconds(800))
        cluster.kill(2)
        try await Task.sleep(for: .milliseconds(600))
        try cluster.start(2)
        for t in writers { await t.value }

        try cluster.waitHealthy()
        let acked = acknowledged.withLockedValue { $0 }
        #expect(acked.count > 100, "too few writes were acknowledged: \(acked.count)")
        // Every member, read locally once it has caught up, holds every acknowledged write.
        for (i, ep) in endpoints.enumerated() {
            var missing: [String] = []
            let deadline = ContinuousClock.now + .seconds(15)
            repeat {
                let r = try await client.execute(.GET, ep, "/v2/keys/durable?recursive=true", timeout: 5)
                let body = r.bodyString
                missing = acked.keys.filter { !body.contains("\"key\":\"\($0)\",\"value\":\"\(acked[$0]!)\"") }
                if missing.isEmpty { break }
                try await Task.sleep(for: .milliseconds(200))
            } while ContinuousClock.now < deadline
            #expect(missing.isEmpty, "member m\(i + 1) lacks \(missing.count) acknowledged writes, e.g. \(missing.prefix(3))")
        }
    }
}
