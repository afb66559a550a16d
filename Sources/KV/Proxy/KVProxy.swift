import Logging
import NIOCore

/// A v2 proxy (`fleetd kv --proxy on|readonly`): serves the client API on `--listen-client-urls`
/// by forwarding to the cluster's members, for machines that only use the cluster.
///
/// Like etcd's proxy it learns the members' peer URLs once (from `<data-dir>/proxy/cluster` if a
/// previous run saved them, else `--discovery`, else `--initial-cluster`), then asks the first
/// reachable peer for the member list (`GET <peer>/members`) every `--proxy-refresh-interval`,
/// forwards to the members' advertised client URLs, and saves the peer URLs it learned.
public final class KVProxy: Sendable {
    public let servers: [HTTPServer]
    let endpoints: ProxyEndpoints
    private let refresher: Task<Void, Never>
    private let client: HTTPClient

    init(servers: [HTTPServer], endpoints: ProxyEndpoints, refresher: Task<Void, Never>, client: HTTPClient) {
        self.servers = servers
        self.endpoints = endpoints
        self.refresher = refresher
        self.client = client
    }

    /// The client URLs currently forwarded to (failed ones included).
    public var memberClientURLs: [String] { endpoints.urls }

    /// Stops listening and refreshing.
    public func shutdown() async {
        refresher.cancel()
        for s in servers { await s.shutdown() }
        client.shutdown()
    }

    public static func start(config: KVConfig, logger: Logger = Logger(label: "kv-proxy"),
                             discoveryRetry: DiscoveryRetryPolicy = DiscoveryRetryPolicy()) async throws -> KVProxy {
        let file = ProxyClusterFile(dataDir: config.dataDir)
        var peers: [String]
        if let saved = try file.read() {
            if config.discovery != nil {
                logger.warning("discovery token ignored since the proxy has already been initialized; valid cluster file found",
                               metadata: ["path": "\(file.path)"])
            }
            peers = saved
        } else if let url = config.discovery {
            do {
                let discovery = try Discovery(url: url, proxy: config.discoveryProxy, policy: discoveryRetry)
                peers = try await discovery.cluster(logger: logger).members.flatMap { $0.peerURLs.map(\.description) }
            } catch let error as DiscoveryError {
                throw ProxyError.discovery(error)
            }
            try file.write(peers)
        } else if let domain = config.discoverySRV {
            throw ProxyError.discovery(.srvUnsupported(domain: domain))
        } else {
            peers = config.initialCluster.members.flatMap { $0.peerURLs.map(\.description) }
            try file.write(peers)
        }
        guard !peers.isEmpty else { throw ProxyError.noPeers }
        let client = HTTPClient()
        let endpoints = ProxyEndpoints(failureWait: .milliseconds(config.proxyFailureWait))
        let learner = ProxyClusterLearner(client: client, file: file, logger: logger, timeout: Self.seconds(config.proxyDialTimeout, or: 5))
        var complete = false
        if let cluster = await learner.fetch(from: peers) {
            endpoints.set(urls: cluster.clientURLs)
            peers = cluster.peerURLs
            complete = cluster.complete
        } else {
            logger.warning("no peer reachable yet; the proxy will retry", metadata: ["peers": "\(peers.joined(separator: ","))"])
        }
        let interval = Duration.milliseconds(max(config.proxyRefreshInterval, 1))
        let refresher = Task { [peers, complete] in
            var peers = peers
            var complete = complete
            while !Task.isCancelled {
                // With no usable member, or members that have not published their client URLs yet
                // (a cluster still starting), a long wait would leave requests failing: retry each second.
                let wait = endpoints.available().isEmpty || !complete ? min(interval, .seconds(1)) : interval
                try? await Task.sleep(for: wait)
                if Task.isCancelled { break }
                if let cluster = await learner.fetch(from: peers) {
                    endpoints.set(urls: cluster.clientURLs)
                    peers = cluster.peerURLs
                    complete = cluster.complete
                }
            }
        }
        let responder = ProxyResponder(endpoints: endpoints, client: client, readonly: config.proxy == .readonly,
                                       dialTimeout: seconds(config.proxyDialTimeout, or: 30),
                                       requestTimeout: seconds(config.proxyReadTimeout, or: 60))
        var servers: [HTTPServer] = []
        do {
            let tls = try config.clientServerTLS()
            for url in config.listenClientURLs {
                servers.append(try await HTTPServer.start(address: url.listenAddress, responder: responder, tls: tls,
                                                          maxBodySize: KeysRequestParser.defaultMaxValueSize + 64 * 1024))
            }
        } catch {
            refresher.cancel()
            for s in servers { await s.shutdown() }
            client.shutdown()
            throw ProxyError.listen("\(error)")
        }
        logger.notice("proxy: this proxy supports v2 API only!")
        for s in servers {
            logger.notice("v2 proxy started listening on client requests", metadata: ["address": "\(s.boundAddress)",
                                                                                       "mode": "\(config.proxy.rawValue)"])
        }
        return KVProxy(servers: servers, endpoints: endpoints, refresher: refresher, client: client)
    }

    /// etcd's millisecond timeouts, where 0 means "none": here a generous bound instead.
    static func seconds(_ milliseconds: Int, or fallback: Double) -> Double {
        milliseconds > 0 ? Double(milliseconds) / 1000 : fallback
    }
}

/// Reads the member list from the first peer that answers and saves the peer URLs it lists.
struct ProxyClusterLearner: Sendable {
    let client: HTTPClient
    let file: ProxyClusterFile
    let logger: Logger
    let timeout: Double

    struct Cluster {
        var peerURLs: [String]
        var clientURLs: [String]
        /// Every member has published its client URLs (members that just started have not yet).
        var complete: Bool
    }

    func fetch(from peers: [String]) async -> Cluster? {
        for peer in peers {
            guard let endpoint = HTTPEndpoint(url: peer),
                  let r = try? await client.execute(.GET, endpoint, "/members", timeout: timeout), r.status == .ok,
                  let list = MiniJSON.parse(r.bodyString)?.arrayValue else { continue }
            let cluster = Cluster(peerURLs: list.flatMap { $0["peerURLs"]?.arrayValue?.compactMap(\.stringValue) ?? [] },
                                  clientURLs: list.flatMap { $0["clientURLs"]?.arrayValue?.compactMap(\.stringValue) ?? [] },
                                  complete: list.allSatisfy { !($0["clientURLs"]?.arrayValue?.isEmpty ?? true) })
            guard !cluster.peerURLs.isEmpty else { continue }
            do { try file.write(cluster.peerURLs) } catch { logger.warning("\(error)") }
            return cluster
        }
        return nil
    }
}
