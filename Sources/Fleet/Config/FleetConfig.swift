/// fleetd's configuration: every fleet.conf option with fleet v1.0.0's defaults.
///
/// One model for every place a value can come from, with this precedence (highest first):
///
/// 1. command-line flags (`fleetd --agent-ttl=60s`; an extension, fleet itself only had `--config`),
/// 2. `FLEET_*` environment variables (what the cloud-config drop-in for `fleet.service` sets),
/// 3. the config file (`--config PATH`, else `/etc/fleet/fleet.conf` when it exists),
/// 4. a `coreos.fleet` section of cloud-config handed to fleetd directly,
/// 5. the defaults below.
///
/// Why environment over file: that is fleet's documented order, and it lets a systemd drop-in adjust a
/// host without editing files. Why the file over cloud-config: on a real boot cloud-config reaches fleetd
/// as environment (rule 2), so rule 4 only matters when fleetd reads user-data itself (tests, `fleetd
/// validate`); a file written for this host is then the more specific statement and should win.
///
/// Build one with `FleetConfig.load(...)` or `FleetConfig.resolve(_:)`.
public struct FleetConfig: Equatable, Sendable {
    /// Log verbosity; above 0 enables debug logging.
    public var verbosity: Int = 0
    /// etcd (KV) client endpoints, tried in order.
    public var etcdServers: [String] = ["http://127.0.0.1:2379", "http://127.0.0.1:4001"]
    public var etcdUsername: String = ""
    public var etcdPassword: String = ""
    public var etcdKeyFile: String = ""
    public var etcdCertFile: String = ""
    public var etcdCAFile: String = ""
    /// Keyspace prefix for the registry.
    public var etcdKeyPrefix: String = "/_coreos.com/fleet/"
    /// Per-request timeout against etcd, in seconds.
    public var etcdRequestTimeout: Double = 1.0
    /// Engine reconcile period in seconds: the engine's periodic safety pass (store events, not this
    /// timer, drive scheduling). fleet also made the leader lease TTL 5 × this; here that is
    /// ``engineLeaseTTL``.
    public var engineReconcileInterval: Double = 2.0
    /// Address published for this machine; empty means "detect from the default-route interface".
    public var publicIP: String = ""
    /// Machine metadata used by `MachineMetadata=` scheduling.
    public var metadata: [String: String] = [:]
    /// TTL of the machine, unit-state and heartbeat keys.
    public var agentTTL: Duration = .seconds(30)
    /// Where the agent writes the unit files it loads.
    public var unitsDirectory: String = "/run/fleet/units/"
    /// Use the user's systemd instead of the system one.
    public var systemdUser: Bool = false
    /// API page size.
    public var tokenLimit: Int = 100
    /// Accepted for compatibility; the experimental gRPC mode is not implemented.
    public var enableGRPC: Bool = false
    /// Never take part in the engine leader election.
    public var disableEngine: Bool = false
    /// Do not watch etcd; rely on periodic reconciles only.
    public var disableWatches: Bool = false
    /// Deprecated in fleet and ignored; kept so old files still parse.
    public var verifyUnits: Bool = false
    /// Deprecated in fleet and ignored; kept so old files still parse.
    public var authorizedKeysFile: String = ""

    // Ours (fleet had none of these):

    /// Where the fleet API is served: `unix:///path` and `http://host:port` URLs. Sockets passed by
    /// systemd (fleetd.socket) are served as well and replace the default unix socket.
    public var apiListen: [String] = ["unix:///var/run/fleet.sock"]
    /// The URL other fleetds use to reach this one's API (to forward unit status and journal
    /// requests). Empty: derived from the first TCP listener and the public IP.
    public var apiAdvertiseURL: String = ""
    /// Certificate and key (PEM) of the API's `https://` listeners, also presented when forwarding
    /// to another machine's https API.
    public var apiCertFile: String = ""
    public var apiKeyFile: String = ""
    /// CA (PEM) that https API clients must present a certificate from (mutual TLS), and that other
    /// machines' https APIs are checked against. Empty: clients need no certificate.
    public var apiCAFile: String = ""
    /// TTL of this machine's presence record. When a machine dies, its units move elsewhere after
    /// about this long. fleet used `agent_ttl` (30 s) for it; a short TTL refreshed every third of
    /// it detects a dead machine in seconds, while `agent_ttl` still governs unit states.
    public var machineTTL: Duration = .seconds(3)
    /// TTL of the engine leader lease: how long after the leading engine's machine dies another
    /// engine takes over. nil (the default) uses ``machineTTL``, so that losing the leader's machine
    /// costs no more than losing any other machine (fleet: 5 × `engine_reconcile_interval`, 10 s).
    /// The lease is renewed every third of it.
    public var engineLeaseTTL: Duration?

    public init() {}

    /// `agentTTL` in seconds, for timers.
    public var agentTTLSeconds: Double {
        let (seconds, attoseconds) = agentTTL.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// `k=v,k2=v2` with keys sorted, the form fleetctl prints.
    public var metadataString: String {
        metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: ",")
    }
}

/// One fleet option: its name in fleet.conf, its type, and whether cloud-config has a key for it.
public struct FleetOption: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string, bool, int, float
        /// Go duration syntax: `30s`, `1m30s`, `500ms`.
        case duration
        /// Comma list (also `["a","b"]` in fleet.conf).
        case urlList
        /// `k=v,k=v`.
        case metadata
    }

    /// fleet.conf name, with underscores (`agent_ttl`).
    public var name: String
    public var kind: Kind
    /// Whether `coreos.fleet` in cloud-config has this key.
    public var inCloudConfig: Bool
    /// Set for options fleet deprecated and ignores.
    public var deprecation: String?

    /// `FLEET_AGENT_TTL`.
    public var environmentName: String { "FLEET_" + name.uppercased() }
    /// `--agent-ttl`.
    public var flagName: String { String(name.map { $0 == "_" ? "-" : $0 }) }

    /// Every option, in fleet's cloud-config declaration order (the order of drop-in lines), then the
    /// options cloud-config has no key for.
    public static let all: [FleetOption] = [
        FleetOption(name: "agent_ttl", kind: .duration, inCloudConfig: true),
        FleetOption(name: "authorized_keys_file", kind: .string, inCloudConfig: true,
                    deprecation: "authorized_keys_file is deprecated in fleet and ignored"),
        FleetOption(name: "disable_engine", kind: .bool, inCloudConfig: true),
        FleetOption(name: "engine_reconcile_interval", kind: .float, inCloudConfig: true),
        FleetOption(name: "etcd_cafile", kind: .string, inCloudConfig: true),
        FleetOption(name: "etcd_certfile", kind: .string, inCloudConfig: true),
        FleetOption(name: "etcd_keyfile", kind: .string, inCloudConfig: true),
        FleetOption(name: "etcd_key_prefix", kind: .string, inCloudConfig: true),
        FleetOption(name: "etcd_request_timeout", kind: .float, inCloudConfig: true),
        FleetOption(name: "etcd_servers", kind: .urlList, inCloudConfig: true),
        FleetOption(name: "etcd_username", kind: .string, inCloudConfig: true),
        FleetOption(name: "etcd_password", kind: .string, inCloudConfig: true),
        FleetOption(name: "metadata", kind: .metadata, inCloudConfig: true),
        FleetOption(name: "public_ip", kind: .string, inCloudConfig: true),
        FleetOption(name: "token_limit", kind: .int, inCloudConfig: true),
        FleetOption(name: "verbosity", kind: .int, inCloudConfig: true),
        FleetOption(name: "verify_units", kind: .bool, inCloudConfig: true,
                    deprecation: "verify_units is deprecated in fleet and ignored"),
        FleetOption(name: "units_directory", kind: .string, inCloudConfig: false),
        FleetOption(name: "systemd_user", kind: .bool, inCloudConfig: false),
        FleetOption(name: "enable_grpc", kind: .bool, inCloudConfig: false),
        FleetOption(name: "disable_watches", kind: .bool, inCloudConfig: false),
        // Ours; accepted in cloud-config too, so a user-data file can set them.
        FleetOption(name: "api_listen", kind: .urlList, inCloudConfig: true),
        FleetOption(name: "api_advertise_url", kind: .string, inCloudConfig: true),
        FleetOption(name: "api_cert_file", kind: .string, inCloudConfig: true),
        FleetOption(name: "api_key_file", kind: .string, inCloudConfig: true),
        FleetOption(name: "api_ca_file", kind: .string, inCloudConfig: true),
        FleetOption(name: "machine_ttl", kind: .duration, inCloudConfig: true),
        FleetOption(name: "engine_lease_ttl", kind: .duration, inCloudConfig: true),
    ]

    /// Looks an option up; `-` and `_` are interchangeable.
    public static func named(_ name: String) -> FleetOption? {
        let normalized = String(name.map { $0 == "-" ? "_" : $0 })
        return all.first(where: { $0.name == normalized })
    }

    init(name: String, kind: Kind, inCloudConfig: Bool, deprecation: String? = nil) {
        self.name = name
        self.kind = kind
        self.inCloudConfig = inCloudConfig
        self.deprecation = deprecation
    }
}
