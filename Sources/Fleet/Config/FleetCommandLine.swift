/// What `fleetd [flags]` was asked to do.
public enum FleetCommandLine: Equatable, Sendable {
    /// Run with these flag settings; `configPath` is the `--config` value if given.
    case run(flags: [String: FleetSetting], configPath: String?)
    case help
    case version
}

extension FleetConfig {
    /// Parses fleetd's command line: `--config PATH`, `--version`, `--help`, and every option as a flag
    /// (`--agent-ttl=60s`, `--agent_ttl 60s`, `-agent-ttl=60s`; booleans may be bare). No positional arguments.
    public static func parseCommandLine(_ arguments: [String]) throws(FleetConfigError) -> FleetCommandLine {
        var flags: [String: FleetSetting] = [:]
        var configPath: String?
        var index = 0
        while index < arguments.count {
            let arg = arguments[index]
            index += 1
            if arg == "version" && flags.isEmpty && configPath == nil && index == 1 { return .version }
            guard arg.hasPrefix("-"), arg != "-", arg != "--" else { throw .unexpectedArgument(arg) }
            var body = Substring(arg).dropFirst()
            if body.hasPrefix("-") { body = body.dropFirst() }
            var name = String(body)
            var value: String?
            if let eq = body.firstIndex(of: "=") {
                name = String(body[..<eq])
                value = String(body[body.index(after: eq)...])
            }
            if name == "h" || name == "help" { return .help }
            if name == "version" { return .version }
            let isConfig = name == "config"
            let option = FleetOption.named(name)
            guard isConfig || option != nil else { throw .unknownFlag(name) }
            if value == nil {
                if option?.kind == .bool {
                    value = "true"
                } else {
                    guard index < arguments.count else { throw .missingValue(flag: name) }
                    value = arguments[index]
                    index += 1
                }
            }
            if isConfig {
                configPath = value
            } else {
                flags[option!.name] = FleetSetting(value: value!, source: .flag(option!.flagName))
            }
        }
        return .run(flags: flags, configPath: configPath)
    }

    /// What `fleetd` should do, decided from its command line and environment in one call.
    public enum Startup: Equatable, Sendable {
        /// Run with this configuration; log the warnings.
        case run(FleetConfig, warnings: [String])
        /// Print `FleetConfig.usage` and exit 0.
        case help
        /// Print the version and exit 0.
        case version
    }

    /// `fleetd [flags]` in one call: parses the command line, reads the config file, applies
    /// `FLEET_*` and the optional cloud-config layer, with the precedence documented on `FleetConfig`.
    ///
    /// - Throws: `FleetConfigFailure` (a usage error is wrapped as its only entry).
    public static func startup(arguments: [String], environment: [String: String],
                               cloudConfig: [String: FleetSetting] = [:]) throws(FleetConfigFailure) -> Startup {
        let commandLine: FleetCommandLine
        do {
            commandLine = try parseCommandLine(arguments)
        } catch {
            throw FleetConfigFailure(errors: [error])
        }
        switch commandLine {
        case .help: return .help
        case .version: return .version
        case .run(let flags, let configPath):
            let (config, warnings) = try load(flags: flags, configPath: configPath, environment: environment,
                                              cloudConfig: cloudConfig)
            return .run(config, warnings: warnings)
        }
    }

    /// The text for `fleetd --help`.
    public static var usage: String {
        var lines = ["Usage: fleetd [--config PATH] [--OPTION=VALUE ...]", "",
                     "Runs the fleet agent (and engine). Options come from, highest first: flags, FLEET_<OPTION>",
                     "environment variables, the config file (--config, else \(defaultConfigPath) if present),",
                     "then defaults. Option names take '-' or '_'.", ""]
        let defaults = FleetConfig()
        for option in FleetOption.all {
            let value: String
            switch option.name {
            case "agent_ttl": value = "30s"
            case "etcd_servers": value = defaults.etcdServers.joined(separator: ",")
            case "etcd_key_prefix": value = defaults.etcdKeyPrefix
            case "etcd_request_timeout": value = "1.0"
            case "engine_reconcile_interval": value = "2.0"
            case "units_directory": value = defaults.unitsDirectory
            case "token_limit": value = "100"
            case "api_listen": value = defaults.apiListen.joined(separator: ",")
            case "machine_ttl": value = "3s"
            case "engine_lease_ttl": value = "(machine_ttl)"
            case "verbosity": value = "0"
            default: value = option.kind == .bool ? "false" : ""
            }
            let note = option.deprecation.map { " (\($0))" } ?? ""
            lines.append("  --\(option.flagName)  [\(option.environmentName)] default \"\(value)\"\(note)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
