import Logging

/// What `fleetd kv` runs: a Raft member, or a v2 proxy (`--proxy on|readonly`, or a member whose
/// discovery found the cluster full with `--discovery-fallback proxy`, etcd's default).
public enum KVNode: Sendable {
    case member(KVMember.Running)
    case proxy(KVProxy)

    /// Starts a member or a proxy as the configuration says, falling back from a full discovery
    /// cluster to a proxy as etcd does; with `--discovery-fallback exit` the full cluster is an error.
    public static func start(config: KVConfig, logger: Logger = Logger(label: "kv"),
                             discoveryRetry: DiscoveryRetryPolicy = DiscoveryRetryPolicy()) async throws -> KVNode {
        if config.isProxy {
            return .proxy(try await KVProxy.start(config: config, logger: logger, discoveryRetry: discoveryRetry))
        }
        do {
            return .member(try await KVMember.start(config: config, logger: logger, discoveryRetry: discoveryRetry))
        } catch KVMemberError.discovery(.fullCluster, _) where config.discoveryFallback == .proxy {
            logger.notice("discovery cluster full, falling back to proxy")
            var proxy = config
            proxy.proxy = .on
            return .proxy(try await KVProxy.start(config: proxy, logger: logger, discoveryRetry: discoveryRetry))
        }
    }

    /// The member, when this node is one.
    public var member: KVMember? {
        if case .member(let running) = self { return running.member }
        return nil
    }

    public func shutdown() async {
        switch self {
        case .member(let running): await running.shutdown()
        case .proxy(let proxy): await proxy.shutdown()
        }
    }
}
