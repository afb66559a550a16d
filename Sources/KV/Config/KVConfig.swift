/// Everything a KV member (`fleetd kv`) needs to start, with etcd's flag names, defaults and rules.
///
/// The same values arrive from three places: `etcd`-style command-line flags, `ETCD_*` environment
/// variables (what a cloud-config `coreos.etcd2` drop-in sets) and, through the latter, cloud-config.
/// They all go through one resolver (`KVConfig.resolve(_:)`), so a value means the same thing wherever
/// it was written. Build one with `KVConfig.parse(arguments:environment:)`.
///
/// Times are in milliseconds, as etcd's flags are.
public struct KVConfig: Equatable, Sendable {
    /// Human-readable member name; its key in `initialCluster`.
    public var name: String = "default"
    /// Where the WAL and snapshots live. etcd's default is `<name>.etcd` in the working directory.
    public var dataDir: String = "default.etcd"
    /// Dedicated WAL directory; nil keeps the WAL under `dataDir`.
    public var walDir: String?
    /// Committed entries between snapshots.
    public var snapshotCount: UInt64 = 100_000
    /// Leader heartbeat period in milliseconds.
    public var heartbeatInterval: Int = 100
    /// Follower election timeout in milliseconds; at least 5 × `heartbeatInterval`.
    public var electionTimeout: Int = 1000
    /// Milliseconds a newly elected leader waits before it expires TTL keys (no etcd flag). While
    /// the cluster had no leader nobody could refresh a key, so keys whose TTL ran out meanwhile
    /// would all expire at once on election: fleet's machine records of living machines among them,
    /// whose units would then move (seen when the Raft leader's machine was killed). Their owners
    /// get this long to refresh first, as etcd v3 extends its leases on a leader change. A key
    /// expires at its own expiry time or this long after the election, whichever is later, so a
    /// dead owner's key (the killed leader's own machine record) waits for it too.
    ///
    /// Why 2 s: refreshes sent to a surviving member during the election are not lost; they wait in
    /// that member and commit as soon as a leader exists, so the grace has to cover only an owner
    /// whose refresh failed outright (sent to the dead member) and retries: one refresh interval of
    /// fleet's presence (a third of `machine_ttl`, 1.33 s at the default 4 s) plus 0.67 s of latency.
    /// At 3 s the killed leader's record outlived its TTL by about 1 s on average (the election
    /// takes 1–2 × `electionTimeout`; its record had 2.67–4 s left), delaying every move by as much.
    public var ttlGraceAfterElection: Int = 2000
    /// Maximum snapshot files kept (0 = unlimited).
    public var maxSnapshots: Int = 5
    /// Maximum WAL files kept (0 = unlimited).
    public var maxWALs: Int = 5

    public var listenPeerURLs: [KVURL] = [KVURL(scheme: "http", host: "localhost", port: 2380)]
    public var listenClientURLs: [KVURL] = [KVURL(scheme: "http", host: "localhost", port: 2379)]
    /// This member's peer URLs as told to the cluster; must equal its `initialCluster` entry.
    public var initialAdvertisePeerURLs: [KVURL] = [KVURL(scheme: "http", host: "localhost", port: 2380)]
    /// Client URLs published in `/v2/members` and `/v2/machines`.
    public var advertiseClientURLs: [KVURL] = [KVURL(scheme: "http", host: "localhost", port: 2379)]

    /// The static bootstrap membership. When neither `--initial-cluster` nor a discovery flag is given,
    /// it is derived from `name` and `initialAdvertisePeerURLs` (a one-member cluster).
    public var initialCluster: KVInitialCluster = KVInitialCluster(members: [
        .init(name: "default", peerURLs: [KVURL(scheme: "http", host: "localhost", port: 2380)])
    ])
    public var initialClusterState: InitialClusterState = .new
    /// Mixed into cluster and member IDs so that separate clusters never cross-talk.
    public var initialClusterToken: String = "etcd-cluster"
    /// Discovery URL (`http://host:port/v2/keys/<prefix>/<token>`); nil for static bootstrap.
    public var discovery: String?
    public var discoveryFallback: DiscoveryFallback = .proxy
    /// HTTP proxy for discovery traffic.
    public var discoveryProxy: String?
    /// DNS domain for SRV bootstrap.
    public var discoverySRV: String?
    /// Refuse reconfiguration that would risk quorum.
    public var strictReconfigCheck: Bool = true
    /// Start a one-member cluster from existing data, discarding the old membership.
    public var forceNewCluster: Bool = false
    /// Accepted for compatibility; this server only speaks the v2 API, so it is always on.
    public var enableV2: Bool = true
    /// Origins allowed for CORS (empty = none).
    public var cors: [String] = []

    public var proxy: ProxyMode = .off
    /// Milliseconds an endpoint stays failed before the proxy retries it.
    public var proxyFailureWait: Int = 5000
    /// Milliseconds between endpoint refreshes.
    public var proxyRefreshInterval: Int = 30000
    /// Milliseconds for a dial (0 = no timeout).
    public var proxyDialTimeout: Int = 1000
    /// Milliseconds for a write (0 = no timeout).
    public var proxyWriteTimeout: Int = 5000
    /// Milliseconds for a read (0 = no timeout).
    public var proxyReadTimeout: Int = 0

    /// TLS for client connections.
    public var clientTLS: TLSSettings = TLSSettings()
    /// TLS for peer connections.
    public var peerTLS: TLSSettings = TLSSettings()

    public var debug: Bool = false
    /// `package=level` pairs (etcd's `--log-package-levels`), kept verbatim.
    public var logPackageLevels: String?
    public var enablePprof: Bool = false

    /// The defaults of `etcd` with no flags.
    public init() {}

    /// How a member joins: bootstrap a new cluster or join one that already has it as a member.
    public enum InitialClusterState: String, Sendable, CaseIterable {
        case new, existing
    }

    /// What to do when discovery fails (for example the cluster is already full).
    public enum DiscoveryFallback: String, Sendable, CaseIterable {
        case exit, proxy
    }

    /// etcd's v2 proxy mode: `on` forwards everything, `readonly` only reads.
    public enum ProxyMode: String, Sendable, CaseIterable {
        case off, readonly, on
    }

    /// File names for TLS; empty strings mean "not set".
    public struct TLSSettings: Equatable, Sendable {
        public var certFile: String = ""
        public var keyFile: String = ""
        public var trustedCAFile: String = ""
        public var clientCertAuth: Bool = false
        public var autoTLS: Bool = false
        public init() {}
        /// True when any TLS setting is present.
        public var isEnabled: Bool { !certFile.isEmpty || !keyFile.isEmpty || autoTLS }
    }

    /// True when this process proxies requests instead of being a Raft member.
    public var isProxy: Bool { proxy != .off }
}

/// The `--initial-cluster` value: members in the order given, each with one or more peer URLs.
public struct KVInitialCluster: Equatable, Sendable, CustomStringConvertible {
    public struct Member: Equatable, Sendable {
        public var name: String
        public var peerURLs: [KVURL]
        public init(name: String, peerURLs: [KVURL]) {
            self.name = name
            self.peerURLs = peerURLs
        }
    }

    /// Members in first-mention order; a name repeated in the flag collects all its URLs.
    public var members: [Member]

    public init(members: [Member]) {
        self.members = members
    }

    /// Parses `name1=url1,name2=url2,…`; a name may repeat to list several URLs.
    public static func parse(_ text: String, flag: String = "initial-cluster") -> Result<KVInitialCluster, KVConfigError> {
        var members: [Member] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(item).kvTrimmed
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                return .failure(.invalidValue(
                    flag: flag, source: "flag -\(flag)", value: text,
                    expected: "expected name=peerURL[,name=peerURL...], but \"\(entry)\" has no name"))
            }
            let name = String(entry[..<eq]).kvTrimmed
            let urlText = String(entry[entry.index(after: eq)...])
            let url: KVURL
            switch KVURL.parse(urlText) {
            case .success(let parsed): url = parsed
            case .failure(let error): return .failure(.invalidURL(flag: flag, url: urlText, reason: error.reason))
            }
            if let index = members.firstIndex(where: { $0.name == name }) {
                members[index].peerURLs.append(url)
            } else {
                members.append(Member(name: name, peerURLs: [url]))
            }
        }
        return .success(KVInitialCluster(members: members))
    }

    /// The peer URLs listed for `name`, or nil if the name is absent.
    public func peerURLs(of name: String) -> [KVURL]? {
        members.first(where: { $0.name == name })?.peerURLs
    }

    /// The flag syntax, one `name=url` pair per URL.
    public var description: String {
        members.flatMap { member in member.peerURLs.map { "\(member.name)=\($0)" } }.joined(separator: ",")
    }
}
