import Foundation
import KV

/// One step a boot takes, as data. Nothing here is executed: the boot code runs these in order through
/// the systemd binding and the file system, so the plan can be tested, printed and reviewed.
public enum BootAction: Equatable, Sendable, CustomStringConvertible {
    /// `hostnamectl set-hostname` equivalent.
    case setHostname(String)
    /// Create the user if missing; if it exists, only apply the password hash and ssh keys.
    case ensureUser(CloudConfig.User)
    /// Add keys to `user`'s authorized keys under `keyName` (cloudinit used `coreos-cloudinit`).
    case authorizeSSHKeys(user: String, keyName: String, keys: [String])
    /// Write atomically: temp file in the same directory, chmod, optional chown, rename; parents 0755.
    case writeFile(path: String, content: [UInt8], permissions: UInt16, owner: String?)
    /// Set `KEY=value` lines in an environment-style file, keeping its other lines. When the file is
    /// absent, start from `template` if given and present.
    case updateEnvironmentFile(path: String, values: [EnvironmentEntry], template: String?)
    /// Write `/etc/hosts` as `127.0.0.1 <current hostname>` (the hostname is only known at apply time).
    case writeEtcHosts
    /// Write a unit file (0644).
    case writeUnitFile(unit: String, path: String, content: String)
    /// Write a drop-in file (0644), creating `<unit>.d`.
    case writeDropIn(unit: String, path: String, content: String)
    /// Remove any file at `path` and symlink it to `/dev/null`.
    case maskUnit(unit: String, path: String)
    /// For runtime units: remove `path` only if it is empty or a link to `/dev/null`.
    case unmaskUnit(unit: String, path: String)
    /// `EnableUnitFiles([unit], runtime, force: true)`.
    case enableUnit(unit: String, runtime: Bool)
    /// One daemon-reload after unit files changed.
    case daemonReload
    /// A systemd job on a unit, mode `replace`.
    case unitCommand(unit: String, command: CloudConfig.UnitCommand)
    /// Run a user-data script as a transient service (`StartTransientUnit`).
    case startTransientUnit(name: String, execStart: [String])

    public var description: String {
        switch self {
        case .setHostname(let name): return "set hostname \(name)"
        case .ensureUser(let user): return "ensure user \(user.name)"
        case .authorizeSSHKeys(let user, let keyName, let keys): return "authorize \(keys.count) ssh key(s) for \(user) as \(keyName)"
        case .writeFile(let path, let content, let permissions, let owner):
            return "write \(path) (\(content.count) bytes, mode \(String(permissions, radix: 8))\(owner.map { ", owner \($0)" } ?? ""))"
        case .updateEnvironmentFile(let path, let values, _):
            return "update \(path): \(values.map(\.name).joined(separator: ", "))"
        case .writeEtcHosts: return "write /etc/hosts for localhost"
        case .writeUnitFile(_, let path, _): return "write unit \(path)"
        case .writeDropIn(_, let path, _): return "write drop-in \(path)"
        case .maskUnit(let unit, _): return "mask \(unit)"
        case .unmaskUnit(let unit, _): return "unmask \(unit) if masked"
        case .enableUnit(let unit, let runtime): return "enable \(unit)\(runtime ? " (runtime)" : "")"
        case .daemonReload: return "daemon-reload"
        case .unitCommand(let unit, let command): return "\(command.rawValue) \(unit)"
        case .startTransientUnit(let name, let exec): return "start transient \(name): \(exec.joined(separator: " "))"
        }
    }
}

/// `NAME=value` for environment files.
public struct EnvironmentEntry: Equatable, Sendable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Which units the `coreos.etcd2` and `coreos.fleet` sections configure.
///
/// CoreOS had two daemons, `etcd2.service` and `fleet.service`, each with its own drop-in. This project
/// runs one daemon, `fleetd.service` (units/fleetd.service), which reads both `ETCD_*` and `FLEET_*`, so
/// with `.fleetd` both sections land in one drop-in for it, and user-data written for CoreOS that
/// starts `etcd2.service` or `fleet.service` (without giving their content) starts `fleetd.service`
/// instead, once. `.coreOS` reproduces coreos-cloudinit's output exactly.
public struct SectionUnits: Equatable, Sendable {
    /// Unit whose drop-in gets the `ETCD_*` variables.
    public var etcd2: String
    /// Unit whose drop-in gets the `FLEET_*` variables.
    public var fleet: String
    /// Content-less user units renamed to another unit (`etcd2.service` → `fleetd.service`).
    public var aliases: [String: String]

    public init(etcd2: String, fleet: String, aliases: [String: String] = [:]) {
        self.etcd2 = etcd2
        self.fleet = fleet
        self.aliases = aliases
    }

    /// coreos-cloudinit: `etcd2.service` and `fleet.service`.
    public static let coreOS = SectionUnits(etcd2: "etcd2.service", fleet: "fleet.service")
    /// This project: everything goes to `fleetd.service`.
    public static let fleetd = SectionUnits(etcd2: "fleetd.service", fleet: "fleetd.service",
                                            aliases: ["etcd2.service": "fleetd.service", "fleet.service": "fleetd.service"])
}

/// The ordered actions a boot would take for some user-data, plus what the machine should run.
public struct BootPlan: Equatable, Sendable {
    public var format: UserDataFormat
    /// In execution order (reference §4: hostname, users, ssh keys, files, environment, units, reload,
    /// networkd restart, unit commands).
    public var actions: [BootAction]
    /// The validated document (nil for scripts, Ignition and empty user-data).
    public var config: CloudConfig?
    /// Member (with its KV configuration) or worker; nil when the user-data is not cloud-config.
    public var role: CloudConfig.Role?
    /// Warnings and infos found while validating (errors prevent a plan from existing).
    public var report: CloudConfigReport

    /// One action per line, numbered, for logs and `fleetd validate --plan`-style output.
    public var text: String {
        actions.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n") + "\n"
    }

    /// Where a user-data script is written before it runs.
    public static let scriptPath = "/var/lib/coreos-cloudinit/scripts/user-data"

    /// Validates the user-data and, if it has no error, plans the boot. A bad file produces errors and no
    /// actions at all.
    ///
    /// - Parameters:
    ///   - addresses: for `$public_ipv4` etc.; merge `HostAddresses(environment:)` in to get cloudinit's
    ///     environment fallback.
    ///   - units: where the etcd2/fleet sections go; `.fleetd` (this project's daemon) by default.
    public static func make(for userData: UserData, addresses: HostAddresses = HostAddresses(),
                            units: SectionUnits = .fleetd) throws(CloudConfigInvalid) -> BootPlan {
        switch userData.format {
        case .empty, .ignition:
            return BootPlan(format: userData.format, actions: [], config: nil, role: nil,
                            report: CloudConfig.validate(userData))
        case .script:
            let substituted = AddressSubstitution.apply(to: userData.text, addresses: addresses)
            if !substituted.missing.isEmpty {
                throw CloudConfigInvalid(report: CloudConfigReport(format: .script, diagnostics: substituted.missing.map {
                    CloudConfigDiagnostic(line: $0.line, severity: .error, path: "",
                                          message: "no address for $\($0.variable): give it to the boot or set COREOS_\($0.variable.uppercased())")
                }))
            }
            let actions: [BootAction] = [
                .writeFile(path: scriptPath, content: Array(substituted.text.utf8), permissions: 0o700, owner: nil),
                .startTransientUnit(name: "coreos-cloudinit-user-data.service", execStart: ["/bin/bash", scriptPath]),
            ]
            return BootPlan(format: .script, actions: actions, config: nil, role: nil,
                            report: CloudConfigReport(format: .script, diagnostics: []))
        case .unrecognized:
            throw CloudConfigInvalid(report: CloudConfig.validate(userData))
        case .cloudConfig:
            break
        }
        let (config, report) = try CloudConfig.parse(userData, addresses: addresses)
        let role: CloudConfig.Role
        do {
            role = try config.role()
        } catch {
            throw CloudConfigInvalid(report: CloudConfigReport(format: .cloudConfig, diagnostics: report.diagnostics + [
                CloudConfigDiagnostic(line: 1, severity: .error, path: "coreos.etcd2", message: error.description)
            ]))
        }
        let actions = BootPlanner(config: config, addresses: addresses, targets: units).actions()
        return BootPlan(format: .cloudConfig, actions: actions, config: config, role: role, report: report)
    }
}

extension BootPlan {
    /// Reads a user-data file and plans its boot for this machine. Addresses come from
    /// `COREOS_*_IPV4/6` in `environment` (and `/etc/environment`-style values put there), else the
    /// detected address of this machine serves as both the public and the private IPv4.
    ///
    /// - Throws: `CloudConfigInvalid` (its report lists every problem with its line) or, for an
    ///   unreadable file, a report with that one error.
    public static func load(path: String, environment: [String: String]) throws(CloudConfigInvalid) -> BootPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CloudConfigInvalid(report: CloudConfigReport(format: .empty, diagnostics: [
                CloudConfigDiagnostic(line: 0, severity: .error, path: "", message: "\(path): cannot read the file")
            ]))
        }
        let detected = MachineIdentity.detectPublicIP()
        let addresses = HostAddresses(environment: environment)
            .merging(over: HostAddresses(publicIPv4: detected, privateIPv4: detected))
        return try make(for: UserData(bytes: [UInt8](data)), addresses: addresses)
    }
}
