#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// A discovery service (a one-member store of ours, in this process) and configurations for members
/// that bootstrap through it, all on loopback ports with data directories under one temporary root.
final class DiscoveryHarness: @unchecked Sendable {
    let service: LoopbackCluster
    let token: String
    let root: String
    let client = HTTPClient()
    /// Short backoff so that the unreachable-service test ends in well under a second.
    static let quickRetry = DiscoveryRetryPolicy(maxRetries: 2, firstDelay: .milliseconds(20), requestTimeout: 5)

    /// `size` nil leaves `_config/size` unset.
    init(size: Int?) async throws {
        service = try await LoopbackCluster(size: 1)
        _ = try await service.waitForLeader()
        var template = Array("/tmp/fleet-swift-disc-XXXXXX".utf8CString)
        root = String(cString: mkdtemp(&template)!)
        token = "tok\(UInt32.random(in: 0...UInt32.max))"
        if let size {
            let r = try await service.putRetrying(0, "/_etcd/registry/\(token)/_config/size", "\(size)")
            #expect(r.status == .created, "\(r.bodyString)")
        }
    }

    var url: String { "http://127.0.0.1:\(service.configs[0].listenClientURLs[0].port)/v2/keys/_etcd/registry/\(token)" }

    /// A new member configured with `--discovery` (and nothing else about the cluster).
    func config(_ name: String, fallback: KVConfig.DiscoveryFallback = .exit) -> KVConfig {
        var c = KVConfig()
        c.name = name
        c.dataDir = "\(root)/\(name)"
        c.listenClientURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        c.advertiseClientURLs = c.listenClientURLs
        c.listenPeerURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        c.initialAdvertisePeerURLs = c.listenPeerURLs
        c.initialCluster = KVInitialCluster(members: [.init(name: name, peerURLs: c.initialAdvertisePeerURLs)])
        c.discovery = url
        c.discoveryFallback = fallback
        c.heartbeatInterval = 50
        c.electionTimeout = 500
        return c
    }

    /// The registrations under the token: member ID → `name=peerURL`.
    func registrations() async throws -> [String: String] {
        let r = try await service.get(0, "/_etcd/registry/\(token)")
        let nodes = MiniJSON.parse(r.bodyString)?["node"]?["nodes"]?.arrayValue ?? []
        var out: [String: String] = [:]
        for n in nodes {
            if let key = n["key"]?.stringValue, let value = n["value"]?.stringValue {
                out[String(key.split(separator: "/").last!)] = value
            }
        }
        return out
    }

    func endpoint(_ c: KVConfig) -> HTTPEndpoint { .tcp(host: "127.0.0.1", port: c.listenClientURLs[0].port) }

    func put(_ c: KVConfig, _ key: String, _ value: String) async throws -> HTTPClientResponse {
        var h = HTTPHeaders()
        h.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        return try await client.execute(.PUT, endpoint(c), "/v2/keys\(key)", headers: h,
                                        body: ByteBuffer(string: "value=\(value)"), timeout: 10)
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    static func eventually(_ seconds: Double = 10, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    func shutdown() async {
        await service.shutdown()
        client.shutdown()
        _ = try? ChildProcess.run(["rm", "-rf", root])
    }
}
