import KV
import Foundation

/// Where a raw fleet setting came from; used to tell the user which line or variable to fix.
public enum FleetSettingSource: Equatable, Sendable, CustomStringConvertible {
    case flag(String)
    case environment(String)
    case configFile(path: String, line: Int)
    /// `coreos.fleet.<key>` at this line of the user-data.
    case cloudConfig(key: String, line: Int)
    case defaults

    public var description: String {
        switch self {
        case .flag(let name): return "flag --\(name)"
        case .environment(let name): return name
        case .configFile(let path, let line): return "\(path) line \(line)"
        case .cloudConfig(let key, let line): return "line \(line): coreos.fleet.\(key)"
        case .defaults: return "default"
        }
    }
}

/// One raw setting: the text as written and where.
public struct FleetSetting: Equatable, Sendable {
    public var value: String
    public var source: FleetSettingSource
    public init(value: String, source: FleetSettingSource) {
        self.value = value
        self.source = source
    }
}

/// Why a fleet configuration was rejected; messages name the source so the user knows what to edit.
public enum FleetConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownFlag(String)
    case missingValue(flag: String)
    /// fleetd takes no positional arguments.
    case unexpectedArgument(String)
    /// `option` got a value it cannot use; `expected` says what would work.
    case invalidValue(option: String, source: FleetSettingSource, value: String, expected: String)
    /// The config file is missing, a directory, or unreadable.
    case configFile(path: String, reason: String)
    /// A config-file line that is not `key=value`.
    case syntax(path: String, line: Int, text: String)

    public var description: String {
        switch self {
        case .unknownFlag(let name): return "flag provided but not defined: --\(name)"
        case .missingValue(let flag): return "flag needs an argument: --\(flag)"
        case .unexpectedArgument(let arg):
            return "fleetd takes no arguments (got \"\(arg)\"). Did you mean to invoke fleetctl instead?"
        case .invalidValue(let option, let source, let value, let expected):
            switch source {
            case .cloudConfig(let key, let line): return "line \(line): coreos.fleet.\(key): \(expected), got \(value)"
            case .configFile(let path, let line): return "\(path) line \(line): \(option): \(expected), got \(value)"
            case .environment(let name): return "\(name): \(expected), got \(value)"
            case .flag(let name): return "--\(name): \(expected), got \(value)"
            case .defaults: return "\(option): \(expected), got \(value)"
            }
        case .configFile(let path, let reason): return "config file \(path): \(reason)"
        case .syntax(let path, let line, let text):
            return "\(path) line \(line): expected key=value, got \(text)"
        }
    }
}

/// All problems found while resolving a configuration (never just the first).
public struct FleetConfigFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var errors: [FleetConfigError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

extension FleetConfig {
    /// The file read when `--config` is not given (only if it exists).
    public static let defaultConfigPath = "/etc/fleet/fleet.conf"

    /// Reads `FLEET_*` variables; unknown ones come back as warnings (a typo would otherwise be silent).
    public static func environmentSettings(_ environment: [String: String]) -> (settings: [String: FleetSetting], warnings: [String]) {
        var settings: [String: FleetSetting] = [:]
        var warnings: [String] = []
        for key in environment.keys.sorted() where key.hasPrefix("FLEET_") {
            if let option = FleetOption.all.first(where: { $0.environmentName == key }) {
                settings[option.name] = FleetSetting(value: environment[key]!, source: .environment(key))
            } else {
                warnings.append("unrecognized environment variable \(key)")
            }
        }
        return (settings, warnings)
    }

    /// Parses fleet.conf: `key=value` lines at the top level; `#` and `;` start comments; blank lines are
    /// skipped. One layer of matching `"` quotes around a value is removed (fleet kept them, which was never
    /// what anyone meant). Keys inside a `[section]` and unknown keys are warnings, malformed lines errors.
    public static func configFileSettings(path: String, contents: String) -> (settings: [String: FleetSetting], warnings: [String], errors: [FleetConfigError]) {
        var settings: [String: FleetSetting] = [:]
        var warnings: [String] = []
        var errors: [FleetConfigError] = []
        var section: String?
        for (offset, rawLine) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            let line = FleetValues.trimmed(String(rawLine))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                errors.append(.syntax(path: path, line: lineNumber, text: line))
                continue
            }
            let key = FleetValues.trimmed(String(line[..<eq]))
            var value = FleetValues.trimmed(String(line[line.index(after: eq)...]))
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\""), !value.hasPrefix("\"[") {
                value = String(value.dropFirst().dropLast())
            }
            if let section {
                warnings.append("\(path) line \(lineNumber): \(key) is inside [\(section)] and is ignored; options go at the top of the file")
                continue
            }
            guard let option = FleetOption.named(key) else {
                warnings.append("\(path) line \(lineNumber): unrecognized option \"\(key)\"")
                continue
            }
            settings[option.name] = FleetSetting(value: value, source: .configFile(path: path, line: lineNumber))
        }
        return (settings, warnings, errors)
    }

    /// Loads the full configuration as fleetd does at start: command line, environment, config file
    /// (the `--config` file must exist; the default one is used only if present), optional cloud-config
    /// settings (from `CloudConfig.fleetSettings`), defaults.
    ///
    /// - Returns: the configuration and warnings to log.
    /// - Throws: `FleetConfigFailure` with every problem.
    public static func load(
        flags: [String: FleetSetting], configPath: String?, environment: [String: String],
        cloudConfig: [String: FleetSetting] = [:]
    ) throws(FleetConfigFailure) -> (config: FleetConfig, warnings: [String]) {
        var fileSettings: [String: FleetSetting] = [:]
        var warnings: [String] = []
        let path = configPath ?? defaultConfigPath
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if configPath != nil || exists {
            guard exists else {
                throw FleetConfigFailure(errors: [.configFile(path: path, reason: "no such file")])
            }
            guard !isDirectory.boolValue else {
                throw FleetConfigFailure(errors: [.configFile(path: path, reason: "is a directory, expected a file")])
            }
            // FileHandle rather than String(contentsOfFile:), which refuses character devices like /dev/null.
            guard let handle = FileHandle(forReadingAtPath: path),
                let data = try? handle.readToEnd() ?? Data(), let text = String(data: data, encoding: .utf8)
            else {
                throw FleetConfigFailure(errors: [.configFile(path: path, reason: "cannot be read as UTF-8 text")])
            }
            let parsed = configFileSettings(path: path, contents: text)
            if !parsed.errors.isEmpty { throw FleetConfigFailure(errors: parsed.errors) }
            fileSettings = parsed.settings
            warnings += parsed.warnings
        }
        let env = environmentSettings(environment)
        warnings += env.warnings
        let layers = [flags, env.settings, fileSettings, cloudConfig]
        let result = resolve(layers: layers)
        if !result.errors.isEmpty { throw FleetConfigFailure(errors: result.errors) }
        return (result.config, warnings + result.warnings)
    }

    /// Merges layers (first wins) over the defaults and interprets each value, collecting every error.
    public static func resolve(layers: [[String: FleetSetting]]) -> (config: FleetConfig, errors: [FleetConfigError], warnings: [String]) {
        var merged: [String: FleetSetting] = [:]
        for layer in layers.reversed() {
            merged.merge(layer) { _, higher in higher }
        }
        var config = FleetConfig()
        var errors: [FleetConfigError] = []
        var warnings: [String] = []
        for option in FleetOption.all {
            guard let setting = merged[option.name] else { continue }
            if let deprecation = option.deprecation { warnings.append("\(setting.source): \(deprecation)") }
            if let problem = config.apply(option, setting.value) {
                errors.append(.invalidValue(option: option.name, source: setting.source, value: setting.value, expected: problem))
            }
        }
        return (config, errors, warnings)
    }

    /// Sets one option from its text; returns what was expected when the text is not acceptable.
    mutating func apply(_ option: FleetOption, _ raw: String) -> String? {
        let text = FleetValues.trimmed(raw)
        switch option.name {
        case "agent_ttl":
            guard let d = FleetValues.parseDuration(text) else { return "expected a duration like \"30s\"" }
            guard d > .zero else { return "expected a duration greater than zero, like \"30s\"" }
            agentTTL = d
        case "authorized_keys_file": authorizedKeysFile = text
        case "disable_engine": return Self.setBool(text) { disableEngine = $0 }
        case "engine_reconcile_interval":
            return Self.setPositiveSeconds(text) { engineReconcileInterval = $0 }
        case "etcd_cafile": etcdCAFile = text
        case "etcd_certfile": etcdCertFile = text
        case "etcd_keyfile": etcdKeyFile = text
        case "etcd_key_prefix":
            guard !text.isEmpty else { return "expected a key prefix like \"/_coreos.com/fleet/\"" }
            etcdKeyPrefix = text
        case "etcd_request_timeout":
            return Self.setPositiveSeconds(text) { etcdRequestTimeout = $0 }
        case "etcd_servers":
            let list = FleetValues.parseList(text)
            guard !list.isEmpty, list.allSatisfy(FleetValues.isEndpointURL) else {
                return "expected a comma-separated list of URLs like \"http://10.0.0.1:2379\""
            }
            etcdServers = list
        case "etcd_username": etcdUsername = text
        case "etcd_password": etcdPassword = raw
        case "metadata":
            guard let m = FleetValues.parseMetadata(text) else { return "expected key=value pairs separated by commas" }
            metadata = m
        case "public_ip":
            guard text.isEmpty || FleetValues.isIPAddress(text) else { return "expected an IPv4 or IPv6 address" }
            publicIP = text
        case "token_limit":
            guard let n = Int(text), n >= 1 else { return "expected a whole number of at least 1" }
            tokenLimit = n
        case "verbosity":
            guard let n = Int(text), n >= 0 else { return "expected a whole number of at least 0" }
            verbosity = n
        case "verify_units": return Self.setBool(text) { verifyUnits = $0 }
        case "units_directory":
            guard text.hasPrefix("/") else { return "expected an absolute directory path" }
            unitsDirectory = text
        case "systemd_user": return Self.setBool(text) { systemdUser = $0 }
        case "enable_grpc": return Self.setBool(text) { enableGRPC = $0 }
        case "disable_watches": return Self.setBool(text) { disableWatches = $0 }
        case "api_listen":
            let list = FleetValues.parseList(text)
            guard list.allSatisfy({ url in
                HTTPEndpoint.parse(url: url) != nil
                    && (url.hasPrefix("unix:") || url.hasPrefix("http://") || url.hasPrefix("https://"))
            })
            else { return "expected a comma-separated list of unix:///path, http://host:port or https://host:port URLs" }
            apiListen = list
        case "api_advertise_url":
            guard text.isEmpty
                || ((text.hasPrefix("http://") || text.hasPrefix("https://")) && HTTPEndpoint.parse(url: text) != nil)
            else {
                return "expected an http://host:port or https://host:port URL"
            }
            apiAdvertiseURL = text
        case "api_cert_file": apiCertFile = text
        case "api_key_file": apiKeyFile = text
        case "api_ca_file": apiCAFile = text
        case "machine_ttl":
            guard let d = FleetValues.parseDuration(text), d >= .seconds(1) else {
                return "expected a duration of at least 1s, like \"3s\""
            }
            machineTTL = d
        case "engine_lease_ttl":
            if text.isEmpty {
                engineLeaseTTL = nil
                return nil
            }
            guard let d = FleetValues.parseDuration(text), d >= .seconds(1) else {
                return "expected a duration of at least 1s, like \"3s\" (empty: the machine_ttl)"
            }
            engineLeaseTTL = d
        default: return "unknown option"
        }
        return nil
    }

    private static func setBool(_ text: String, _ set: (Bool) -> Void) -> String? {
        guard let b = FleetValues.parseBool(text) else { return "expected true or false" }
        set(b)
        return nil
    }

    private static func setPositiveSeconds(_ text: String, _ set: (Double) -> Void) -> String? {
        guard let v = Double(text), v.isFinite, v > 0 else { return "expected a number of seconds greater than 0, like \"2.5\"" }
        set(v)
        return nil
    }
}
