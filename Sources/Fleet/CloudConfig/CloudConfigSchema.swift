/// The shape of cloud-config, as data: which keys exist, their types and value rules.
///
/// The validator walks the YAML nodes against this schema; keeping it declarative makes the schema
/// easy to compare with the reference tables (cloud-config.md §2) and keeps the walker generic.
indirect enum CCType: Sendable {
    /// Any scalar, read as the text written (YAML 1.1 `off` stays "off", `0644` stays "0644").
    /// `check` returns what was expected when the text is not acceptable.
    case string(check: (@Sendable (String) -> String?)?)
    /// A YAML boolean (`true`/`false`/`yes`/`no`/`on`/`off`); a quoted "true" is a string, hence an error.
    case bool
    /// A YAML integer.
    case int
    /// A YAML integer or float.
    case float
    /// A sequence of scalars.
    case stringList
    /// A mapping with known keys.
    case object([CCField])
    case list(CCType)
    /// Anything at all, not inspected (sections we accept but ignore).
    case anything

    static let plainString = CCType.string(check: nil)

    /// Words used in "expected …" messages.
    var expectation: String {
        switch self {
        case .string: return "expected a string"
        case .bool: return "expected true or false"
        case .int: return "expected a whole number"
        case .float: return "expected a number"
        case .stringList: return "expected a list of strings"
        case .object: return "expected a mapping"
        case .list: return "expected a list"
        case .anything: return "expected a value"
        }
    }
}

/// One key of a mapping.
struct CCField: Sendable {
    var name: String
    var type: CCType
    /// A warning printed when the key is used (the key still works unless `ignored`).
    var deprecation: String?

    init(_ name: String, _ type: CCType, deprecation: String? = nil) {
        self.name = name
        self.type = type
        self.deprecation = deprecation
    }
}

/// Value rules (cloudinit's `valid:` regexes, and a few checks it lacked).
enum CCChecks {
    static func oneOf(_ values: [String]) -> @Sendable (String) -> String? {
        { text in values.contains(text) ? nil : "expected one of \(values.joined(separator: ", "))" }
    }

    static let unitCommand = oneOf(["start", "stop", "restart", "reload", "try-restart", "reload-or-restart",
                                    "reload-or-try-restart"])
    static let encoding = oneOf(["base64", "b64", "gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64"])
    static let proxy = oneOf(["on", "off", "readonly"])
    static let rebootStrategy = oneOf(["etcd-lock", "reboot", "off"])

    /// `^0?[0-7]{3,4}$`.
    static let permissions: @Sendable (String) -> String? = { text in
        let ok = text.allSatisfy { ("0"..."7").contains($0) } && (3...5).contains(text.count)
            && (text.count < 5 || text.hasPrefix("0"))
        return ok ? nil : "expected octal permissions like \"0644\""
    }

    /// `[day ]HH:MM` for locksmith's reboot window.
    static let windowStart: @Sendable (String) -> String? = { text in
        let parts = text.split(separator: " ")
        let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        let time: Substring
        if parts.count == 2, days.contains(parts[0].lowercased()) { time = parts[1] } else if parts.count == 1 { time = parts[0] } else {
            return "expected a time like \"Thu 04:00\" or \"04:00\""
        }
        let hm = time.split(separator: ":")
        guard hm.count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...23).contains(h), (0...59).contains(m) else {
            return "expected a time like \"Thu 04:00\" or \"04:00\""
        }
        return nil
    }

    static let windowLength: @Sendable (String) -> String? = { text in
        FleetValues.parseDuration(text) == nil || text == "0" ? "expected a duration like \"1h30m\"" : nil
    }

    static let hostname: @Sendable (String) -> String? = { text in
        let ok = !text.isEmpty && text.count <= 64 && !text.hasPrefix("-") && !text.hasPrefix(".")
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
        return ok || text.contains("$") ? nil : "expected a host name (letters, digits, '-' and '.', at most 64 characters)"
    }

    static let manageEtcHosts = oneOf(["localhost"])
}

/// The cloud-config schema (reference §2).
enum CloudConfigSchema {
    static let unit = CCType.object([
        CCField("name", .plainString),
        CCField("content", .plainString),
        CCField("runtime", .bool),
        CCField("enable", .bool),
        CCField("mask", .bool),
        CCField("command", .string(check: CCChecks.unitCommand)),
        CCField("drop_ins", .list(.object([CCField("name", .plainString), CCField("content", .plainString)]))),
    ])

    static let file = CCType.object([
        CCField("path", .plainString),
        CCField("content", .plainString),
        CCField("encoding", .string(check: CCChecks.encoding)),
        CCField("owner", .plainString),
        CCField("permissions", .string(check: CCChecks.permissions)),
    ])

    static let user = CCType.object([
        CCField("name", .plainString),
        CCField("passwd", .plainString),
        CCField("ssh_authorized_keys", .stringList),
        CCField("gecos", .plainString),
        CCField("homedir", .plainString),
        CCField("no_create_home", .bool),
        CCField("primary_group", .plainString),
        CCField("groups", .stringList),
        CCField("no_user_group", .bool),
        CCField("system", .bool),
        CCField("no_log_init", .bool),
        CCField("shell", .plainString),
        CCField("coreos_ssh_import_github", .plainString, deprecation: "importing keys from GitHub is no longer supported; list the keys in ssh_authorized_keys"),
        CCField("coreos_ssh_import_github_users", .stringList, deprecation: "importing keys from GitHub is no longer supported; list the keys in ssh_authorized_keys"),
        CCField("coreos_ssh_import_url", .plainString, deprecation: "importing keys from a URL is no longer supported; list the keys in ssh_authorized_keys"),
    ])

    /// `coreos.etcd2` keys and types (reference §2.5), in drop-in order.
    static let etcd2Keys: [(String, CCType)] = [
        ("advertise_client_urls", .plainString), ("ca_file", .plainString), ("cert_file", .plainString),
        ("client_cert_auth", .bool), ("cors", .plainString), ("data_dir", .plainString), ("debug", .bool),
        ("discovery", .plainString), ("discovery_fallback", .plainString), ("discovery_srv", .plainString),
        ("discovery_proxy", .plainString), ("election_timeout", .int), ("enable_pprof", .bool),
        ("force_new_cluster", .bool), ("heartbeat_interval", .int), ("initial_advertise_peer_urls", .plainString),
        ("initial_cluster", .plainString), ("initial_cluster_state", .plainString),
        ("initial_cluster_token", .plainString), ("key_file", .plainString), ("listen_client_urls", .plainString),
        ("listen_peer_urls", .plainString), ("log_package_levels", .plainString), ("max_snapshots", .int),
        ("max_wals", .int), ("name", .plainString), ("peer_ca_file", .plainString), ("peer_cert_file", .plainString),
        ("peer_key_file", .plainString), ("peer_client_cert_auth", .bool), ("peer_trusted_ca_file", .plainString),
        ("proxy", .string(check: CCChecks.proxy)), ("proxy_dial_timeout", .int), ("proxy_failure_wait", .int),
        ("proxy_read_timeout", .int), ("proxy_refresh_interval", .int), ("proxy_write_timeout", .int),
        ("snapshot_count", .int), ("strict_reconfig_check", .bool), ("trusted_ca_file", .plainString),
        ("wal_dir", .plainString),
    ]

    static let etcd2 = CCType.object(etcd2Keys.map { CCField($0.0, $0.1) })

    /// `coreos.fleet` keys (reference §2.6), typed from the fleet option table.
    static let fleet = CCType.object(FleetOption.all.filter(\.inCloudConfig).map { option in
        switch option.kind {
        case .bool: return CCField(option.name, .bool, deprecation: option.deprecation)
        case .int: return CCField(option.name, .int)
        case .float: return CCField(option.name, .float)
        case .string, .duration, .urlList, .metadata: return CCField(option.name, .plainString, deprecation: option.deprecation)
        }
    })

    static let flannelKeys = ["etcd_endpoints", "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_prefix",
                              "etcd_username", "etcd_password", "ip_masq", "subnet_file", "interface", "public_ip"]
    static let locksmithKeys = ["endpoint", "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_username",
                                "etcd_password", "group", "window_start", "window_length"]
    static let oemKeys = ["id", "name", "version_id", "home_url", "bug_report_url"]

    static let coreos = CCType.object([
        CCField("etcd", .anything, deprecation: "coreos.etcd configures etcd 0.4, which is not run here; use coreos.etcd2 (this section is ignored)"),
        CCField("etcd2", etcd2),
        CCField("fleet", fleet),
        CCField("flannel", .object(flannelKeys.map { CCField($0, .plainString) })),
        CCField("locksmith", .object(locksmithKeys.map { key in
            switch key {
            case "window_start": return CCField(key, .string(check: CCChecks.windowStart))
            case "window_length": return CCField(key, .string(check: CCChecks.windowLength))
            default: return CCField(key, .plainString)
            }
        })),
        CCField("update", .object([CCField("reboot_strategy", .string(check: CCChecks.rebootStrategy)),
                                   CCField("group", .plainString), CCField("server", .plainString)])),
        CCField("oem", .object(oemKeys.map { CCField($0, .plainString) })),
        CCField("units", .list(unit)),
    ])

    static let root = CCType.object([
        CCField("hostname", .string(check: CCChecks.hostname)),
        CCField("ssh_authorized_keys", .stringList),
        CCField("users", .list(user)),
        CCField("write_files", .list(file)),
        CCField("manage_etc_hosts", .string(check: CCChecks.manageEtcHosts)),
        CCField("coreos", coreos),
    ])
}
