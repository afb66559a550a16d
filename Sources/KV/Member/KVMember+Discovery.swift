import Logging

extension KVMember {
    /// The configuration to bootstrap with, its initial cluster and token taken from the
    /// discovery service (`--discovery`). Errors are `KVMemberError.discovery`, so a caller can
    /// tell a full cluster (which may fall back to a proxy) from the rest.
    static func discoverCluster(config: KVConfig, retry: DiscoveryRetryPolicy, logger: Logger) async throws -> KVConfig {
        if config.discovery == nil, let domain = config.discoverySRV {
            throw KVMemberError.discovery(.srvUnsupported(domain: domain), url: domain)
        }
        guard let url = config.discovery else { return config }
        var bootstrap = config
        do {
            let discovery = try Discovery(url: url, proxy: config.discoveryProxy, policy: retry)
            bootstrap.initialCluster = try await discovery.join(
                name: config.name, peerURLs: config.initialAdvertisePeerURLs.map(\.description), logger: logger)
            bootstrap.initialClusterToken = discovery.clusterToken
        } catch let error as DiscoveryError {
            throw KVMemberError.discovery(error, url: url)
        }
        return bootstrap
    }
}
