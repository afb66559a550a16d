/// The etcd flags `fleetd kv` understands, with their `ETCD_*` variable names.
///
/// One table drives the command-line parser, the environment reader, the cloud-config
/// `coreos.etcd2` mapping and the help text, so a flag cannot be known to one of them and not the others.
public struct KVFlag: Sendable, Equatable {
    /// How the value is read.
    public enum Kind: Sendable, Equatable {
        case string
        /// Go-style boolean; on the command line the value is optional (`--debug` means true).
        case bool
        /// Unsigned decimal integer.
        case uint
        /// Comma-separated URL list.
        case urls
        /// One of a fixed set of words.
        case choice([String])
    }

    /// The name without dashes, e.g. `initial-cluster`.
    public var name: String
    public var kind: Kind
    /// One line of help.
    public var help: String
    /// When set, using the flag produces this warning (the flag still works).
    public var deprecation: String?

    /// `ETCD_` plus the name upper-cased with `-` turned into `_` (`ETCD_INITIAL_CLUSTER`).
    public var environmentName: String {
        "ETCD_" + name.uppercased().kvUnderscored
    }

    /// Looks a flag up by its dash name; `_` is accepted in place of `-`.
    public static func named(_ name: String) -> KVFlag? {
        let normalized = name.kvDashed
        return all.first(where: { $0.name == normalized })
    }

    /// Every flag, in the order `etcd --help` groups them.
    public static let all: [KVFlag] = [
        // Member
        KVFlag(name: "name", kind: .string, help: "human-readable name for this member (default \"default\")"),
        KVFlag(name: "data-dir", kind: .string, help: "path to the data directory (default \"${name}.etcd\")"),
        KVFlag(name: "wal-dir", kind: .string, help: "path to a dedicated WAL directory"),
        KVFlag(name: "snapshot-count", kind: .uint, help: "committed transactions between snapshots (default 100000)"),
        KVFlag(name: "heartbeat-interval", kind: .uint, help: "heartbeat interval in ms (default 100)"),
        KVFlag(name: "election-timeout", kind: .uint, help: "election timeout in ms (default 1000)"),
        KVFlag(name: "listen-peer-urls", kind: .urls, help: "URLs to listen on for peer traffic (default \"http://localhost:2380\")"),
        KVFlag(name: "listen-client-urls", kind: .urls, help: "URLs to listen on for client traffic (default \"http://localhost:2379\")"),
        KVFlag(name: "max-snapshots", kind: .uint, help: "maximum snapshot files to retain, 0 is unlimited (default 5)"),
        KVFlag(name: "max-wals", kind: .uint, help: "maximum WAL files to retain, 0 is unlimited (default 5)"),
        KVFlag(name: "cors", kind: .string, help: "comma-separated origins allowed for CORS"),
        KVFlag(name: "enable-v2", kind: .bool, help: "accepted for compatibility; the v2 API is always served"),
        // Clustering
        KVFlag(name: "initial-advertise-peer-urls", kind: .urls, help: "this member's peer URLs to advertise (default \"http://localhost:2380\")"),
        KVFlag(name: "initial-cluster", kind: .string, help: "initial cluster configuration, name=peerURL,... (default \"default=http://localhost:2380\")"),
        KVFlag(name: "initial-cluster-state", kind: .choice(["new", "existing"]), help: "\"new\" to bootstrap, \"existing\" to join (default \"new\")"),
        KVFlag(name: "initial-cluster-token", kind: .string, help: "initial cluster token (default \"etcd-cluster\")"),
        KVFlag(name: "advertise-client-urls", kind: .urls, help: "this member's client URLs to advertise (default \"http://localhost:2379\")"),
        KVFlag(name: "discovery", kind: .string, help: "discovery URL used to bootstrap the cluster"),
        KVFlag(name: "discovery-fallback", kind: .choice(["exit", "proxy"]), help: "\"exit\" or \"proxy\" when discovery fails (default \"proxy\")"),
        KVFlag(name: "discovery-proxy", kind: .string, help: "HTTP proxy for discovery traffic"),
        KVFlag(name: "discovery-srv", kind: .string, help: "DNS domain used to bootstrap the cluster"),
        KVFlag(name: "strict-reconfig-check", kind: .bool, help: "reject reconfiguration that might cause quorum loss (default true)"),
        KVFlag(name: "force-new-cluster", kind: .bool, help: "force a new one-member cluster from existing data"),
        // Proxy
        KVFlag(name: "proxy", kind: .choice(["off", "readonly", "on"]), help: "proxy mode: \"off\", \"readonly\" or \"on\" (default \"off\")"),
        KVFlag(name: "proxy-failure-wait", kind: .uint, help: "ms an endpoint is held failed before retry (default 5000)"),
        KVFlag(name: "proxy-refresh-interval", kind: .uint, help: "ms between endpoint refreshes (default 30000)"),
        KVFlag(name: "proxy-dial-timeout", kind: .uint, help: "ms for a dial, 0 disables (default 1000)"),
        KVFlag(name: "proxy-write-timeout", kind: .uint, help: "ms for a write, 0 disables (default 5000)"),
        KVFlag(name: "proxy-read-timeout", kind: .uint, help: "ms for a read, 0 disables (default 0)"),
        // Security
        KVFlag(name: "cert-file", kind: .string, help: "client server TLS certificate file"),
        KVFlag(name: "key-file", kind: .string, help: "client server TLS key file"),
        KVFlag(name: "client-cert-auth", kind: .bool, help: "require client certificates"),
        KVFlag(name: "trusted-ca-file", kind: .string, help: "client server TLS trusted CA file"),
        KVFlag(name: "auto-tls", kind: .bool, help: "client TLS with generated certificates"),
        KVFlag(name: "peer-cert-file", kind: .string, help: "peer server TLS certificate file"),
        KVFlag(name: "peer-key-file", kind: .string, help: "peer server TLS key file"),
        KVFlag(name: "peer-client-cert-auth", kind: .bool, help: "require peer client certificates"),
        KVFlag(name: "peer-trusted-ca-file", kind: .string, help: "peer server TLS trusted CA file"),
        KVFlag(name: "peer-auto-tls", kind: .bool, help: "peer TLS with generated certificates"),
        KVFlag(name: "ca-file", kind: .string, help: "deprecated: use --trusted-ca-file and --client-cert-auth",
               deprecation: "ca_file obsoleted by trusted_ca_file and client_cert_auth"),
        KVFlag(name: "peer-ca-file", kind: .string, help: "deprecated: use --peer-trusted-ca-file and --peer-client-cert-auth",
               deprecation: "peer_ca_file obsoleted peer_trusted_ca_file and peer_client_cert_auth"),
        // Logging and profiling
        KVFlag(name: "debug", kind: .bool, help: "enable debug-level logging"),
        KVFlag(name: "log-package-levels", kind: .string, help: "per-package log levels, e.g. 'etcdserver=WARNING'"),
        KVFlag(name: "enable-pprof", kind: .bool, help: "accepted for compatibility; no profiler is served"),
    ]

    init(name: String, kind: Kind, help: String, deprecation: String? = nil) {
        self.name = name
        self.kind = kind
        self.help = help
        self.deprecation = deprecation
    }
}

extension KVFlag {
    /// Go's `strconv.ParseBool`, which both etcd flags and `ETCD_*` variables use.
    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }
}

extension String {
    var kvUnderscored: String { String(map { $0 == "-" ? "_" : $0 }) }
    var kvDashed: String { String(map { $0 == "_" ? "-" : $0 }) }
}
