import Foundation
import KV
import Yams

extension CloudConfig {
    /// Validates user-data without applying or substituting anything: the report `fleetd validate` prints.
    ///
    /// Checks, each reported with its line: the header/format, YAML syntax, types (an error, never a
    /// silent zero), allowed values, unknown keys (warnings), `write_files` paths and encodings, unit
    /// names and commands, the `coreos.etcd2` section as a KV configuration (e.g. election timeout ≥ 5 ×
    /// heartbeat) and `coreos.fleet` as a fleet configuration (e.g. `agent_ttl` is a duration).
    /// `$public_ipv4`-style variables are checked as if they were addresses.
    public static func validate(_ userData: UserData) -> CloudConfigReport {
        analyze(userData).report
    }

    /// Validates text (convenience for `validate(UserData(text:))`).
    public static func validate(text: String) -> CloudConfigReport {
        validate(UserData(text: text))
    }

    /// `fleetd validate FILE`: reads the file (gzip allowed), validates it, and returns the report text
    /// and the exit status documented on `CloudConfigReport.exitStatus` (0 clean, 1 errors, 2 warnings
    /// only). An unreadable file gives status 1 with the reason.
    public static func validateFile(atPath path: String) -> (text: String, exitStatus: Int32) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return ("\(path): cannot read file\n", 1)
        }
        let report = validate(UserData(bytes: [UInt8](data)))
        return (report.text, report.exitStatus)
    }

    /// Validates, then (only if there is no error) substitutes the addresses and returns the document.
    ///
    /// - Parameter addresses: values for `$public_ipv4` etc.; a variable the file uses without a value is
    ///   an error (cloudinit silently substituted an empty string).
    /// - Throws: `CloudConfigInvalid` with the full report.
    /// - Returns: the document and the validation report (its warnings). Scripts, Ignition and empty
    ///   user-data give an empty document; `BootPlan.make(for:addresses:)` handles every format.
    public static func parse(_ userData: UserData, addresses: HostAddresses = HostAddresses()) throws(CloudConfigInvalid) -> (config: CloudConfig, report: CloudConfigReport) {
        let first = analyze(userData)
        guard first.report.isValid else { throw CloudConfigInvalid(report: first.report) }
        guard userData.format == .cloudConfig else {
            return (CloudConfig(), first.report)
        }
        let substituted = AddressSubstitution.apply(to: userData.text, addresses: addresses)
        if !substituted.missing.isEmpty {
            var diagnostics = first.report.diagnostics
            for missing in substituted.missing {
                let envName = "COREOS_" + missing.variable.uppercased()
                diagnostics.append(CloudConfigDiagnostic(
                    line: missing.line, severity: .error, path: "",
                    message: "no address for $\(missing.variable): give it to the boot or set \(envName)"))
            }
            throw CloudConfigInvalid(report: CloudConfigReport(format: userData.format, diagnostics: diagnostics))
        }
        let second = analyze(UserData(text: substituted.text), placeholders: false)
        guard second.report.isValid, let config = second.config else {
            throw CloudConfigInvalid(report: second.report)
        }
        return (config, first.report)
    }

    /// The shared pass: classify, parse YAML, walk the schema, run semantic checks, build the model.
    /// `placeholders` substitutes documentation addresses for variables during semantic checks only.
    static func analyze(_ userData: UserData, placeholders: Bool = true) -> (report: CloudConfigReport, config: CloudConfig?) {
        switch userData.format {
        case .empty, .script:
            return (CloudConfigReport(format: userData.format, diagnostics: []), nil)
        case .ignition:
            return (CloudConfigReport(format: .ignition, diagnostics: [CloudConfigDiagnostic(
                line: 1, severity: .warning, path: "",
                message: "this is an Ignition config; it is not cloud-config and nothing will be applied")]), nil)
        case .unrecognized:
            return (CloudConfigReport(format: .unrecognized, diagnostics: [CloudConfigDiagnostic(
                line: 1, severity: .error, path: "",
                message: userData.problem ?? "must be \"#cloud-config\" or begin with \"#!\"")]), nil)
        case .cloudConfig:
            break
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: userData.text)
        } catch {
            return (CloudConfigReport(format: .cloudConfig, diagnostics: [yamlDiagnostic(error, text: userData.text)]), nil)
        }
        var walker = CloudConfigWalker()
        guard let root, !CloudConfigWalker.isNull(root) else {
            return (CloudConfigReport(format: .cloudConfig, diagnostics: []), CloudConfig())
        }
        guard let value = walker.walk(root, CloudConfigSchema.root, path: "") else {
            return (CloudConfigReport(format: .cloudConfig, diagnostics: walker.diagnostics), nil)
        }
        var checker = SemanticChecker(walker: walker, placeholders: placeholders)
        let config = checker.build(value)
        return (CloudConfigReport(format: .cloudConfig, diagnostics: checker.walker.diagnostics), config)
    }

    /// A YAML library error as a diagnostic at its line.
    static func yamlDiagnostic(_ error: Error, text: String? = nil) -> CloudConfigDiagnostic {
        switch error {
        case YamlError.scanner(let context, let problem, let mark, _),
            YamlError.parser(let context, let problem, let mark, _),
            YamlError.composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) (line \($0.mark.line)): " } ?? ""
            return CloudConfigDiagnostic(line: mark.line, severity: .error, path: "", message: "YAML: \(prefix)\(problem)")
        case YamlError.duplicatedKeysInMapping(let duplicates, let context):
            // Yams marks the mapping, not the repeated key; find the repeat so the user lands on it.
            let key = duplicates.first ?? ""
            let found = text.map { repeatedKeyLines(key, in: $0, from: context.mark.line) } ?? []
            if found.count >= 2 {
                return CloudConfigDiagnostic(line: found[1], severity: .error, path: "",
                                             message: "duplicate key \"\(key)\" (first set on line \(found[0]))")
            }
            return CloudConfigDiagnostic(line: context.mark.line, severity: .error, path: "",
                                         message: "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")) in this mapping")
        case YamlError.reader(let problem, _, _, _):
            return CloudConfigDiagnostic(line: 1, severity: .error, path: "", message: "YAML: \(problem)")
        default:
            return CloudConfigDiagnostic(line: 1, severity: .error, path: "", message: "YAML: \(error)")
        }
    }
}

/// Lines (1-based, at or after `from`) whose first token is `key:` — used to locate a repeated key.
fileprivate func repeatedKeyLines(_ key: String, in text: String, from: Int) -> [Int] {
    var result: [Int] = []
    for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where offset + 1 >= from {
        var body = line.drop(while: { $0 == " " || $0 == "-" })
        if body.hasPrefix("\"") || body.hasPrefix("'") { body = body.dropFirst() }
        if body.hasPrefix(key), body.dropFirst(key.count).drop(while: { $0 == "\"" || $0 == "'" }).hasPrefix(":") {
            result.append(offset + 1)
        }
    }
    return result
}

/// Checks that need more than one value or a real decoder, and builds the typed model.
struct SemanticChecker {
    var walker: CloudConfigWalker
    var placeholders: Bool

    mutating func build(_ root: CCValue) -> CloudConfig {
        var config = CloudConfig()
        config.hostname = root.string("hostname")
        config.manageEtcHosts = root.string("manage_etc_hosts")
        config.sshAuthorizedKeys = root["ssh_authorized_keys"]?.strings ?? []
        for (index, user) in (root["users"]?.items ?? []).enumerated() {
            if let built = buildUser(user, path: "users[\(index)]") { config.users.append(built) }
        }
        for (index, file) in (root["write_files"]?.items ?? []).enumerated() {
            if let built = buildFile(file, path: "write_files[\(index)]") { config.writeFiles.append(built) }
        }
        if let coreos = root["coreos"] {
            config.etcd2 = coreos["etcd2"].map(settings)
            config.fleet = coreos["fleet"].map(settings)
            config.flannel = coreos["flannel"].map(settings)
            config.locksmith = coreos["locksmith"].map(settings)
            config.update = coreos["update"].map(settings)
            config.oem = coreos["oem"].map(settings)
            for (index, unit) in (coreos["units"]?.items ?? []).enumerated() {
                if let built = buildUnit(unit, path: "coreos.units[\(index)]") { config.units.append(built) }
            }
            if let entry = coreos.entries.first(where: { $0.key == "etcd2" }) { checkEtcd2(config, sectionLine: entry.keyLine) }
            if config.fleet != nil { checkFleet(config) }
        }
        return config
    }

    func settings(_ value: CCValue) -> [CloudConfig.Setting] {
        value.entries.compactMap { entry in
            entry.value.text.map { CloudConfig.Setting(key: entry.key, value: $0, line: entry.keyLine) }
        }
    }

    mutating func buildUser(_ value: CCValue, path: String) -> CloudConfig.User? {
        guard let name = value.string("name"), !name.isEmpty else {
            walker.error(value.line, path, "a user needs a name")
            return nil
        }
        var user = CloudConfig.User(name: name)
        user.passwordHash = value.string("passwd")
        user.sshAuthorizedKeys = value["ssh_authorized_keys"]?.strings ?? []
        user.gecos = value.string("gecos")
        user.homeDirectory = value.string("homedir")
        user.noCreateHome = value.bool("no_create_home")
        user.primaryGroup = value.string("primary_group")
        user.groups = value["groups"]?.strings ?? []
        user.noUserGroup = value.bool("no_user_group")
        user.system = value.bool("system")
        user.noLogInit = value.bool("no_log_init")
        user.shell = value.string("shell")
        return user
    }

    mutating func buildFile(_ value: CCValue, path: String) -> CloudConfig.File? {
        guard let filePath = value.string("path"), !filePath.isEmpty else {
            walker.error(value.line, path, "a file needs a path")
            return nil
        }
        let pathLine = value["path"]!.line
        var ok = true
        if !filePath.hasPrefix("/") {
            walker.error(pathLine, "\(path).path", "expected an absolute path, got \(filePath)")
            ok = false
        } else if filePath == "/usr" || filePath.hasPrefix("/usr/") {
            walker.error(pathLine, "\(path).path", "file cannot be written to a read-only filesystem")
            ok = false
        }
        var permissions: UInt16 = 0o644
        if let text = value.string("permissions") { permissions = UInt16(text, radix: 8) ?? 0o644 }
        let encoding = value.string("encoding")
        let contentValue = value["content"]
        var bytes: [UInt8] = []
        if let contentValue {
            switch ContentDecoder.decode(contentValue.text ?? "", binary: contentValue.isBinary, encoding: encoding) {
            case .success(let decoded): bytes = decoded
            case .failure(let failure):
                walker.error(contentValue.line, "\(path).content", failure.message)
                ok = false
            }
        }
        guard ok else { return nil }
        return CloudConfig.File(path: filePath, content: bytes, permissions: permissions, owner: value.string("owner"))
    }

    mutating func buildUnit(_ value: CCValue, path: String) -> CloudConfig.Unit? {
        guard let name = value.string("name"), !name.isEmpty else {
            walker.warning(value.line, path, "unit has no name and is skipped")
            return nil
        }
        let nameLine = value["name"]!.line
        if let problem = UnitNames.problem(name) {
            walker.error(nameLine, "\(path).name", "\(problem), got \(name)")
            return nil
        }
        var unit = CloudConfig.Unit(name: name)
        unit.content = value.string("content")
        unit.runtime = value.bool("runtime")
        unit.enable = value.bool("enable")
        unit.mask = value.bool("mask")
        unit.command = value.string("command").flatMap(CloudConfig.UnitCommand.init(rawValue:))
        if unit.isNetworkUnit, let command = value["command"] {
            walker.info(command.line, "\(path).command", "ignored for network units; systemd-networkd is restarted instead")
        }
        if unit.isNetworkUnit, let enable = value["enable"], unit.enable {
            walker.info(enable.line, "\(path).enable", "ignored for network units")
        }
        for (index, dropIn) in (value["drop_ins"]?.items ?? []).enumerated() {
            let dropPath = "\(path).drop_ins[\(index)]"
            guard let dropName = dropIn.string("name"), !dropName.isEmpty else {
                walker.error(dropIn.line, dropPath, "a drop-in needs a name like \"50-custom.conf\"")
                continue
            }
            if dropName.contains("/") {
                walker.error(dropIn["name"]!.line, "\(dropPath).name", "expected a file name without '/', got \(dropName)")
                continue
            }
            if !dropName.hasSuffix(".conf") {
                walker.warning(dropIn["name"]!.line, "\(dropPath).name", "systemd only reads drop-ins ending in .conf")
            }
            unit.dropIns.append(CloudConfig.DropIn(name: dropName, content: dropIn.string("content") ?? ""))
        }
        return unit
    }

    func substituted(_ text: String) -> String {
        placeholders ? AddressSubstitution.placeholder(text) : text
    }

    func message(_ text: String) -> String {
        placeholders ? AddressSubstitution.unplaceholder(text) : text
    }

    /// Runs the KV resolver over the section and puts each problem on the line of the key it is about.
    mutating func checkEtcd2(_ config: CloudConfig, sectionLine: Int) {
        var settings = config.kvSettings
        for key in settings.keys { settings[key]!.value = substituted(settings[key]!.value) }
        let result = KVConfig.check(settings)
        let lines = Dictionary((config.etcd2 ?? []).map { ($0.key, $0.line) }, uniquingKeysWith: { _, last in last })
        for error in result.errors {
            let key = (error.flag ?? "").replacingOccurrences(of: "-", with: "_")
            let line = lines[key] ?? sectionLine
            let path = lines[key] != nil ? "coreos.etcd2.\(key)" : "coreos.etcd2"
            walker.error(line, path, message(error.detail))
        }
        for warning in result.warnings {
            let key = (warning.flag ?? "").replacingOccurrences(of: "-", with: "_")
            walker.warning(lines[key] ?? sectionLine, lines[key] != nil ? "coreos.etcd2.\(key)" : "coreos.etcd2", message(warning.message))
        }
    }

    /// Runs the fleet resolver over the section (values as written, variables as placeholder addresses).
    mutating func checkFleet(_ config: CloudConfig) {
        var layer = config.fleetSettings
        for key in layer.keys { layer[key]!.value = substituted(layer[key]!.value) }
        let result = FleetConfig.resolve(layers: [layer])
        for error in result.errors {
            guard case .invalidValue(_, .cloudConfig(let key, let line), let value, let expected) = error else { continue }
            walker.error(line, "coreos.fleet.\(key)", message("\(expected), got \(value)"))
        }
    }
}
