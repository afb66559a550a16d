import KV

/// A checked cloud-config document (CoreOS user-data starting with `#cloud-config`).
///
/// Obtain one with `CloudConfig.parse(_:addresses:)`, which validates first and refuses a file with any
/// error, then substitutes `$public_ipv4`-style variables. `plan()` turns it into the ordered actions
/// a boot would take; nothing here touches the system.
public struct CloudConfig: Equatable, Sendable {
    /// `hostname`.
    public var hostname: String?
    /// `ssh_authorized_keys`: keys for user `core`.
    public var sshAuthorizedKeys: [String] = []
    public var users: [User] = []
    public var writeFiles: [File] = []
    /// `manage_etc_hosts`; only `"localhost"` is valid.
    public var manageEtcHosts: String?
    /// `coreos.etcd2` in file order, keys normalised to `_`; nil when the section is absent.
    /// A machine with this section runs a KV member (see `role`).
    public var etcd2: [Setting]?
    /// `coreos.fleet` in file order; nil when absent.
    public var fleet: [Setting]?
    /// `coreos.flannel`, `coreos.locksmith`, `coreos.update`, `coreos.oem` (nil when absent).
    public var flannel: [Setting]?
    public var locksmith: [Setting]?
    public var update: [Setting]?
    public var oem: [Setting]?
    /// `coreos.units` in file order (entries without a name are dropped, with a warning).
    public var units: [Unit] = []

    public init() {}

    /// One `key: value` of a section; `value` is the text (booleans `true`/`false`, numbers in decimal).
    public struct Setting: Equatable, Sendable {
        public var key: String
        public var value: String
        /// Line of the key in the user-data.
        public var line: Int
        public init(key: String, value: String, line: Int) {
            self.key = key
            self.value = value
            self.line = line
        }
    }

    /// A `users[]` entry.
    public struct User: Equatable, Sendable {
        public var name: String
        public var passwordHash: String?
        public var sshAuthorizedKeys: [String] = []
        public var gecos: String?
        public var homeDirectory: String?
        public var noCreateHome = false
        public var primaryGroup: String?
        public var groups: [String] = []
        public var noUserGroup = false
        public var system = false
        public var noLogInit = false
        public var shell: String?
        public init(name: String) { self.name = name }
    }

    /// A `write_files[]` entry, content already decoded.
    public struct File: Equatable, Sendable {
        public var path: String
        /// The bytes to write (after base64/gzip decoding).
        public var content: [UInt8]
        /// Octal mode; 0644 when not given.
        public var permissions: UInt16
        /// `user[:group]` for chown, or nil.
        public var owner: String?
        public init(path: String, content: [UInt8], permissions: UInt16 = 0o644, owner: String? = nil) {
            self.path = path
            self.content = content
            self.permissions = permissions
            self.owner = owner
        }
    }

    /// A `coreos.units[]` entry.
    public struct Unit: Equatable, Sendable {
        public var name: String
        /// Unit file text; nil means the unit file already exists.
        public var content: String?
        /// Write under `/run` instead of `/etc`.
        public var runtime = false
        public var enable = false
        public var mask = false
        public var command: UnitCommand?
        public var dropIns: [DropIn] = []
        public init(name: String) { self.name = name }

        /// `.network`, `.netdev` and `.link` units belong to systemd-networkd.
        public var isNetworkUnit: Bool {
            name.hasSuffix(".network") || name.hasSuffix(".netdev") || name.hasSuffix(".link")
        }
    }

    /// A drop-in file `<unit>.d/<name>`.
    public struct DropIn: Equatable, Sendable {
        public var name: String
        public var content: String
        public init(name: String, content: String) {
            self.name = name
            self.content = content
        }
    }

    /// The systemd job a unit entry asks for (mode `replace`).
    public enum UnitCommand: String, Equatable, Sendable, CaseIterable {
        case start, stop, restart, reload
        case tryRestart = "try-restart"
        case reloadOrRestart = "reload-or-restart"
        case reloadOrTryRestart = "reload-or-try-restart"
    }

    /// What this machine is for, by the project's convention.
    public enum Role: Equatable, Sendable {
        /// `coreos.etcd2` present: run a KV member (or KV proxy) with this configuration, plus the fleet agent.
        case member(KVConfig)
        /// No `coreos.etcd2`: run only the fleet agent, talking to `FleetConfig.etcdServers`.
        case worker
    }

    /// `coreos.etcd2` as `ETCD_*` variables in the reference's key order. Empty values are left out, as
    /// cloudinit did; unlike cloudinit, an explicit `false` or `0` is kept (cloudinit dropped them, so
    /// `strict_reconfig_check: false` silently did nothing).
    public var etcdEnvironment: [(name: String, value: String)] {
        guard let etcd2 else { return [] }
        return CloudConfigSchema.etcd2Keys.compactMap { key, _ in
            guard let setting = etcd2.last(where: { $0.key == key }), !Self.isZero(setting.value) else { return nil }
            return ("ETCD_" + key.uppercased(), setting.value)
        }
    }

    /// `coreos.fleet` as `FLEET_*` variables in the reference's key order (empty values left out).
    public var fleetEnvironment: [(name: String, value: String)] {
        guard let fleet else { return [] }
        return FleetOption.all.filter(\.inCloudConfig).compactMap { option in
            guard let setting = fleet.last(where: { $0.key == option.name }), !Self.isZero(setting.value) else { return nil }
            return (option.environmentName, setting.value)
        }
    }

    /// `coreos.etcd2` as settings for `KVConfig.check(_:)`, keyed by etcd flag name.
    public var kvSettings: [String: KVSetting] {
        var result: [String: KVSetting] = [:]
        for setting in etcd2 ?? [] {
            let flag = String(setting.key.map { $0 == "_" ? "-" : $0 })
            result[flag] = KVSetting(value: setting.value, source: "coreos.etcd2.\(setting.key)")
        }
        return result
    }

    /// `coreos.fleet` as a settings layer for `FleetConfig.load(...)` / `FleetConfig.resolve(layers:)`.
    public var fleetSettings: [String: FleetSetting] {
        var result: [String: FleetSetting] = [:]
        for setting in fleet ?? [] {
            result[setting.key] = FleetSetting(value: setting.value, source: .cloudConfig(key: setting.key, line: setting.line))
        }
        return result
    }

    /// Member or worker, with the member's KV configuration. Throws the KV errors (which `parse`
    /// already reported, so on a parsed document this only fails if it was modified afterwards).
    public func role() throws(KVConfigError) -> Role {
        guard etcd2 != nil else { return .worker }
        let checked = KVConfig.check(kvSettings)
        if let first = checked.errors.first { throw first }
        return .member(checked.config)
    }

    /// Values left out of drop-ins.
    static func isZero(_ value: String) -> Bool { value.isEmpty }
}
