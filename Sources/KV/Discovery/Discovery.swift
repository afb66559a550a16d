import Logging

/// etcd v2's discovery bootstrap: a new member registers under a token on any v2 keys endpoint and
/// waits until the expected number of members have registered; the first `size` registrations (by
/// creation order) are the initial cluster.
///
/// Registration keys are member IDs derived exactly as static bootstrap derives them
/// (`MembershipRecords.memberID` over the peer URLs, with the discovery URL as the cluster token, as
/// etcd does), so every member computes the same IDs and the registry's keys match `/v2/members`.
public struct Discovery: Sendable {
    public let url: DiscoveryURL
    public let proxy: HTTPEndpoint?
    public let policy: DiscoveryRetryPolicy

    public init(url: String, proxy: String? = nil, policy: DiscoveryRetryPolicy = DiscoveryRetryPolicy()) throws(DiscoveryError) {
        self.url = try DiscoveryURL(url)
        if let proxy {
            guard let endpoint = HTTPEndpoint(url: proxy) else { throw .invalidURL("--discovery-proxy \(proxy)") }
            self.proxy = endpoint
        } else {
            self.proxy = nil
        }
        self.policy = policy
    }

    /// The cluster token etcd derives from a discovery URL: the URL itself.
    public var clusterToken: String { url.text }

    /// The registration key (and member ID) of a member with these peer URLs.
    public func memberID(peerURLs: [String]) -> UInt64 {
        MembershipRecords.memberID(peerURLs: peerURLs, token: clusterToken)
    }

    /// Registers this member and waits for the rest; returns the initial cluster
    /// (`name=peerURL,…`, the first `size` registrations in creation order).
    public func join(name: String, peerURLs: [String], logger: Logger) async throws -> KVInitialCluster {
        let registry = DiscoveryRegistry(url: url, proxy: proxy, policy: policy, logger: logger)
        let selfID = MemberInfo.hex(memberID(peerURLs: peerURLs))
        // Fast path: a full cluster is refused before registering, so the registry stays as it was.
        _ = try await check(registry, selfID: selfID)
        let value = peerURLs.map { "\(name)=\($0)" }.joined(separator: ",")
        guard let created = try await registry.create(id: selfID, value: value) else {
            throw DiscoveryError.duplicateID(name: name, token: url.text)
        }
        // Make sure our own registration is visible on the server we talk to.
        _ = try await registry.watch(selfID, waitIndex: created, recursive: false)
        let (found, size, index) = try await check(registry, selfID: selfID)
        let all = try await wait(registry, found: found, size: size, index: index, selfID: selfID, logger: logger)
        return try Self.cluster(from: all, size: size)
    }

    /// The cluster as registered (for a proxy): waits until `size` members registered; a full
    /// registry is fine here.
    public func cluster(logger: Logger) async throws -> KVInitialCluster {
        let registry = DiscoveryRegistry(url: url, proxy: proxy, policy: policy, logger: logger)
        let size = try await registry.size()
        let (found, index) = try await registry.registrations()
        let all = try await wait(registry, found: Array(found.prefix(size)), size: size, index: index, selfID: "", logger: logger)
        return try Self.cluster(from: all, size: size)
    }

    /// Reads size and registrations; `fullCluster` when `size` others registered before us.
    private func check(_ registry: DiscoveryRegistry, selfID: String) async throws -> ([DiscoveryRegistration], Int, UInt64) {
        let size = try await registry.size()
        let (found, index) = try await registry.registrations()
        if found.count >= size, !found.prefix(size).contains(where: { $0.id == selfID }) {
            throw DiscoveryError.fullCluster
        }
        return (Array(found.prefix(size)), size, index)
    }

    /// Watches the token directory until `size` registrations are known.
    private func wait(_ registry: DiscoveryRegistry, found: [DiscoveryRegistration], size: Int, index: UInt64,
                      selfID: String, logger: Logger) async throws -> [DiscoveryRegistration] {
        var all = found
        for r in all {
            logger.info(r.id == selfID ? "found self from discovery server" : "found peer from discovery server",
                        metadata: ["id": "\(r.id)", "value": "\(r.value)"])
        }
        var next = index + 1
        while all.count < size {
            logger.info("found \(all.count) peer(s), waiting for \(size - all.count) more")
            let event: JSONValue
            do {
                event = try await registry.watch("", waitIndex: next, recursive: true)
            } catch is DiscoveryRegistry.HistoryCleared {
                // A busy service dropped the events we missed: list again (in creation order) and go on.
                let (listed, index) = try await registry.registrations()
                for r in listed.prefix(size) where !all.contains(where: { $0.id == r.id }) { all.append(r) }
                next = index + 1
                continue
            }
            guard let node = event["node"] else { continue }
            next = UInt64(node["modifiedIndex"]?.numberValue ?? Double(next)) + 1
            let action = event["action"]?.stringValue ?? ""
            guard action == "create" || action == "set", let r = DiscoveryRegistry.registration(node),
                  !all.contains(where: { $0.id == r.id }) else { continue }
            logger.info("found peer from discovery server", metadata: ["id": "\(r.id)", "value": "\(r.value)"])
            all.append(r)
        }
        logger.info("found \(size) needed peer(s)")
        return Array(all.sorted { $0.createdIndex < $1.createdIndex }.prefix(size))
    }

    /// The registered values as an initial cluster; distinct names must number `size`.
    static func cluster(from registrations: [DiscoveryRegistration], size: Int) throws(DiscoveryError) -> KVInitialCluster {
        let text = registrations.map(\.value).joined(separator: ",")
        guard case .success(let cluster) = KVInitialCluster.parse(text) else { throw .invalidURL(text) }
        guard cluster.members.count == size else { throw .duplicateName(cluster: text) }
        return cluster
    }
}
