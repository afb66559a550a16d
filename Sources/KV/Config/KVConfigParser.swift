/// One raw setting before it is interpreted: the text and where it came from (for messages).
public struct KVSetting: Equatable, Sendable {
    public var value: String
    /// How the user wrote it, e.g. `flag -name`, `ETCD_NAME` or `coreos.etcd2.name`.
    public var source: String
    public init(value: String, source: String) {
        self.value = value
        self.source = source
    }
}

/// What `fleetd kv [etcd flags]` was asked to do.
public enum KVCommandLine: Equatable, Sendable {
    /// Run a member (or proxy) with this configuration; `warnings` should be logged.
    case run(KVConfig, warnings: [KVConfigWarning])
    /// `-h`/`--help`: print `KVConfig.usage` and exit 0.
    case help
    /// `--version`: print the version and exit 0.
    case version
}

extension KVConfig {
    /// Parses an `etcd` command line and environment, the way etcd does, so `fleetd kv` is a drop-in.
    ///
    /// * Flags: `--flag=value`, `--flag value`, `-flag=value`, `-flag value`; booleans also bare (`--debug`)
    ///   but, as in Go, never as `--debug false` (that leaves `false` as a stray argument). `--` ends flags.
    ///   A repeated flag keeps its last value.
    /// * Environment: `ETCD_<FLAG_UPPER_SNAKE>` for every flag. A flag on the command line wins over its
    ///   variable (with a warning, as etcd prints); unknown `ETCD_*` variables are warnings.
    /// * Precedence is therefore flags > environment > defaults, etcd's own order.
    ///
    /// - Parameter arguments: the arguments after the command name (`fleetd kv` stripped).
    /// - Throws: the first problem found; use `KVConfig.check(_:)` to get all of them.
    public static func parse(arguments: [String], environment: [String: String]) throws(KVConfigError) -> KVCommandLine {
        var settings: [String: KVSetting] = [:]
        var index = 0
        while index < arguments.count {
            let arg = arguments[index]
            index += 1
            if arg == "--" {
                if index < arguments.count { throw .unexpectedArgument(arguments[index]) }
                break
            }
            guard arg.hasPrefix("-"), arg != "-" else { throw .unexpectedArgument(arg) }
            var body = Substring(arg).dropFirst()
            if body.hasPrefix("-") { body = body.dropFirst() }
            if body.isEmpty || body.hasPrefix("-") || body.hasPrefix("=") { throw .unexpectedArgument(arg) }
            var name = String(body)
            var value: String?
            if let eq = body.firstIndex(of: "=") {
                name = String(body[..<eq])
                value = String(body[body.index(after: eq)...])
            }
            if name == "h" || name == "help" { return .help }
            if name == "version" { return .version }
            guard let flag = KVFlag.all.first(where: { $0.name == name }) else { throw .unknownFlag(name) }
            if value == nil {
                if flag.kind == .bool {
                    value = "true"
                } else {
                    guard index < arguments.count else { throw .missingValue(flag: name) }
                    value = arguments[index]
                    index += 1
                }
            }
            settings[flag.name] = KVSetting(value: value!, source: "flag -\(flag.name)")
        }

        var warnings: [KVConfigWarning] = []
        for key in environment.keys.sorted() where key.hasPrefix("ETCD_") {
            let value = environment[key]!
            guard let flag = KVFlag.all.first(where: { $0.environmentName == key }) else {
                warnings.append(KVConfigWarning(flag: nil, message: "unrecognized environment variable \(key)=\(value)"))
                continue
            }
            if settings[flag.name] != nil {
                warnings.append(KVConfigWarning(
                    flag: flag.name,
                    message: "recognized environment variable \(key), but unused: shadowed by corresponding flag"))
                continue
            }
            settings[flag.name] = KVSetting(value: value, source: key)
        }

        let (config, errors, resolveWarnings) = resolve(settings)
        if let first = errors.first { throw first }
        return .run(config, warnings: warnings + resolveWarnings)
    }

    /// Interprets already-collected settings (keyed by flag name) and reports every problem, not just the
    /// first. Cloud-config validation uses this to put each problem on its own line.
    public static func check(_ settings: [String: KVSetting]) -> (config: KVConfig, errors: [KVConfigError], warnings: [KVConfigWarning]) {
        resolve(settings)
    }

    /// True when `environment` configures a KV member: at least one `ETCD_*` variable of a known flag is
    /// set and non-empty. This is how `fleetd`, started with the cloud-config drop-in, tells a member
    /// (user-data had `coreos.etcd2`) from a worker (it had none).
    public static func isConfigured(in environment: [String: String]) -> Bool {
        KVFlag.all.contains { environment[$0.environmentName].map { !$0.isEmpty } ?? false }
    }

    /// The text for `fleetd kv --help`.
    public static var usage: String {
        var lines = ["Usage: fleetd kv [flags]", "",
                     "Runs a member of the KV store (etcd v2 API). Flags are etcd's; each can also be set",
                     "as ETCD_<FLAG> in the environment (e.g. ETCD_INITIAL_CLUSTER). Flags win over the environment.",
                     "",
                     "Bootstrap: --initial-cluster (static), or --discovery URL (etcd's v2 discovery protocol against",
                     "any v2 keys endpoint, e.g. http://10.0.0.1:2379/v2/keys/_etcd/registry/<token> with _config/size set).",
                     "A full discovery cluster makes this process a proxy (--discovery-fallback proxy, the default) or exit.",
                     "Proxy: --proxy on|readonly serves the client API by forwarding to the cluster's members (learned",
                     "from --initial-cluster or --discovery, saved in <data-dir>/proxy/cluster); readonly answers writes with 501.",
                     ""]
        for flag in KVFlag.all {
            let valueHint: String
            switch flag.kind {
            case .bool: valueHint = ""
            case .uint: valueHint = " N"
            case .urls: valueHint = " URLS"
            case .string, .choice: valueHint = " VALUE"
            }
            lines.append("  --\(flag.name)\(valueHint)")
            lines.append("        \(flag.help)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
