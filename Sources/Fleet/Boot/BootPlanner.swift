/// Turns a validated `CloudConfig` into `BootAction`s in coreos-cloudinit's apply order.
struct BootPlanner {
    var config: CloudConfig
    var addresses: HostAddresses
    var targets: SectionUnits

    /// Unit path rule: `/(run|etc)/systemd/(system|network)/<name>`.
    static func unitDirectory(_ unit: CloudConfig.Unit) -> String {
        "/\(unit.runtime ? "run" : "etc")/systemd/\(unit.isNetworkUnit ? "network" : "system")"
    }

    /// `[Service]` plus one `Environment="K=V"` line per entry; `"` and `\` in values are escaped so
    /// systemd reads back exactly the value written (cloudinit wrote them raw).
    static func environmentDropIn(_ entries: [(name: String, value: String)]) -> String {
        var text = "[Service]\n"
        for (name, value) in entries {
            let escaped = value.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
            text += "Environment=\"\(name)=\(escaped)\"\n"
        }
        return text
    }

    /// Units cloudinit derives from sections, before the user's units: etcd2, fleet, locksmith. When
    /// etcd2 and fleet target the same unit, their variables share one drop-in (ETCD_* first).
    func sectionUnits() -> [CloudConfig.Unit] {
        var units: [CloudConfig.Unit] = []
        func add(_ name: String, _ entries: [(name: String, value: String)]) {
            guard !entries.isEmpty else { return }
            if let index = units.firstIndex(where: { $0.name == name }) {
                let merged = Self.environmentDropIn(entries).dropFirst("[Service]\n".count)
                units[index].dropIns[0].content += merged
                return
            }
            var unit = CloudConfig.Unit(name: name)
            unit.runtime = true
            unit.dropIns = [CloudConfig.DropIn(name: "20-cloudinit.conf", content: Self.environmentDropIn(entries))]
            units.append(unit)
        }
        add(targets.etcd2, config.etcdEnvironment)
        add(targets.fleet, config.fleetEnvironment)
        add("locksmithd.service", (config.locksmith ?? []).filter { !$0.value.isEmpty }.map { setting in
            switch setting.key {
            case "window_start": return ("REBOOT_WINDOW_START", setting.value)
            case "window_length": return ("REBOOT_WINDOW_LENGTH", setting.value)
            default: return ("LOCKSMITHD_" + setting.key.uppercased(), setting.value)
            }
        })
        return units
    }

    /// The user's units with content-less aliases renamed (`etcd2.service` → `fleetd.service`); a
    /// renamed entry that repeats an earlier one's command for the same unit is dropped.
    func userUnits() -> [CloudConfig.Unit] {
        var result: [CloudConfig.Unit] = []
        for var unit in config.units {
            if unit.content == nil, let target = targets.aliases[unit.name] {
                unit.name = target
                if result.contains(where: { $0.name == target && $0.command == unit.command })
                    && unit.dropIns.isEmpty && !unit.enable && !unit.mask
                {
                    continue
                }
            }
            result.append(unit)
        }
        return result
    }

    /// Units implied by `coreos.update` (reference §2.7).
    func updateUnits() -> [CloudConfig.Unit] {
        guard let update = config.update else { return [] }
        var units: [CloudConfig.Unit] = []
        if let strategy = update.last(where: { $0.key == "reboot_strategy" })?.value, !strategy.isEmpty {
            var locksmith = CloudConfig.Unit(name: "locksmithd.service")
            if strategy == "off" {
                locksmith.command = .stop
                locksmith.mask = true
                locksmith.runtime = true
            } else {
                locksmith.command = .restart
            }
            units.append(locksmith)
        }
        if update.contains(where: { ($0.key == "group" || $0.key == "server") && !$0.value.isEmpty }) {
            var engine = CloudConfig.Unit(name: "update-engine.service")
            engine.command = .restart
            units.append(engine)
        }
        return units
    }

    func actions() -> [BootAction] {
        var actions: [BootAction] = []
        // 1. hostname
        if let hostname = config.hostname, !hostname.isEmpty { actions.append(.setHostname(hostname)) }
        // 2. users
        for user in config.users { actions.append(.ensureUser(user)) }
        // 3. core's ssh keys
        if !config.sshAuthorizedKeys.isEmpty {
            actions.append(.authorizeSSHKeys(user: "core", keyName: "coreos-cloudinit", keys: config.sshAuthorizedKeys))
        }
        // 4. files: write_files, oem-release, update.conf, /etc/hosts, flannel
        for file in config.writeFiles {
            actions.append(.writeFile(path: file.path, content: file.content, permissions: file.permissions, owner: file.owner))
        }
        if let oem = config.oem, let id = oem.last(where: { $0.key == "id" })?.value, !id.isEmpty {
            actions.append(.writeFile(path: "/etc/oem-release", content: Array(Self.osRelease(oem).utf8), permissions: 0o644, owner: nil))
        }
        if let update = config.update {
            let names = ["reboot_strategy": "REBOOT_STRATEGY", "group": "GROUP", "server": "SERVER"]
            let values = update.filter { !$0.value.isEmpty }.compactMap { s in names[s.key].map { EnvironmentEntry(name: $0, value: s.value) } }
            if !values.isEmpty {
                actions.append(.updateEnvironmentFile(path: "/etc/coreos/update.conf", values: values,
                                                      template: "/usr/share/coreos/update.conf"))
            }
        }
        if config.manageEtcHosts == "localhost" { actions.append(.writeEtcHosts) }
        if let flannel = config.flannel {
            let values = flannel.filter { !$0.value.isEmpty }.map { s in
                EnvironmentEntry(name: s.key == "interface" ? "FLANNELD_IFACE" : "FLANNELD_" + s.key.uppercased(), value: s.value)
            }
            if !values.isEmpty {
                actions.append(.updateEnvironmentFile(path: "/run/flannel/options.env", values: values, template: nil))
            }
        }
        // 5. /etc/environment, unless write_files wrote it
        let environment = addresses.environmentLines
        if !environment.isEmpty, !config.writeFiles.contains(where: { $0.path == "/etc/environment" }) {
            let values = environment.map { line -> EnvironmentEntry in
                let parts = line.split(separator: "=", maxSplits: 1)
                return EnvironmentEntry(name: String(parts[0]), value: String(parts[1]))
            }
            actions.append(.updateEnvironmentFile(path: "/etc/environment", values: values, template: nil))
        }
        // 6.–7. units: network units first, then the others (section drop-ins before the user's units)
        let all = sectionUnits() + userUnits() + updateUnits()
        let ordered = all.filter(\.isNetworkUnit) + all.filter { !$0.isNetworkUnit }
        var wroteUnitFiles = false
        for unit in ordered {
            let directory = Self.unitDirectory(unit)
            let path = "\(directory)/\(unit.name)"
            if let content = unit.content {
                actions.append(.writeUnitFile(unit: unit.name, path: path, content: content))
                wroteUnitFiles = true
            }
            for dropIn in unit.dropIns {
                actions.append(.writeDropIn(unit: unit.name, path: "\(directory)/\(unit.name).d/\(dropIn.name)", content: dropIn.content))
                wroteUnitFiles = true
            }
            if unit.mask {
                actions.append(.maskUnit(unit: unit.name, path: path))
                wroteUnitFiles = true
            } else if unit.runtime {
                actions.append(.unmaskUnit(unit: unit.name, path: path))
            }
            if unit.enable, !unit.isNetworkUnit {
                actions.append(.enableUnit(unit: unit.name, runtime: unit.runtime))
            }
        }
        // 8. one daemon-reload
        if wroteUnitFiles { actions.append(.daemonReload) }
        // 9. networkd picks up network units
        if all.contains(where: \.isNetworkUnit) {
            actions.append(.unitCommand(unit: "systemd-networkd.service", command: .restart))
        }
        // 10. the queued commands, in file order
        for unit in all where !unit.isNetworkUnit {
            if let command = unit.command { actions.append(.unitCommand(unit: unit.name, command: command)) }
        }
        return actions
    }

    /// os-release format for `/etc/oem-release`.
    static func osRelease(_ oem: [CloudConfig.Setting]) -> String {
        let keys = [("id", "ID", false), ("name", "NAME", true), ("version_id", "VERSION_ID", false),
                    ("home_url", "HOME_URL", true), ("bug_report_url", "BUG_REPORT_URL", true)]
        var text = ""
        for (key, name, quoted) in keys {
            guard let value = oem.last(where: { $0.key == key })?.value, !value.isEmpty else { continue }
            text += quoted ? "\(name)=\"\(value)\"\n" : "\(name)=\(value)\n"
        }
        return text
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
