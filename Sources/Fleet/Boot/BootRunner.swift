#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Applies a ``BootPlan`` to this machine, step by step, in the plan's order. The first failing step
/// stops the boot with ``BootError/step(index:action:_:)``; every file is written atomically (temp
/// file, then rename), so a step either happened or did not.
///
/// `root` prefixes every path (empty on a real machine; a temporary directory in tests). Users and
/// the kernel hostname are only touched when `root` is empty.
public struct BootRunner: Sendable {
    public var root: String
    public var systemd: any BootSystemd

    public init(root: String = "", systemd: any BootSystemd) {
        self.root = root
        self.systemd = systemd
    }

    /// Runs every action; `log` receives one line per step before it runs.
    public func run(_ plan: BootPlan, log: (String) -> Void = { _ in }) async throws(BootError) {
        for (offset, action) in plan.actions.enumerated() {
            log("\(offset + 1)/\(plan.actions.count) \(action)")
            do {
                try await apply(action)
            } catch let error as BootError {
                throw .step(index: offset + 1, action: action.description, error)
            } catch {
                throw .step(index: offset + 1, action: action.description, .systemd("\(error)"))
            }
        }
    }

    func apply(_ action: BootAction) async throws {
        switch action {
        case .setHostname(let name):
            try write(path("/etc/hostname"), Array((name + "\n").utf8), permissions: 0o644)
            if root.isEmpty, sethostname(name, name.utf8.count) != 0 {
                throw BootError.file(path: "hostname", "sethostname failed: \(String(cString: strerror(errno)))")
            }
        case .ensureUser(let user):
            guard root.isEmpty else { return }
            try ensureUser(user)
        case .authorizeSSHKeys(let user, let keyName, let keys):
            try authorize(user: user, keyName: keyName, keys: keys)
        case .writeFile(let filePath, let content, let permissions, let owner):
            try write(path(filePath), content, permissions: permissions, owner: owner)
        case .updateEnvironmentFile(let filePath, let values, let template):
            try updateEnvironment(path(filePath), values: values, template: template.map(path))
        case .writeEtcHosts:
            let name = root.isEmpty ? MachineIdentity.hostname() : (try? String(contentsOfFile: path("/etc/hostname"), encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "localhost"
            try write(path("/etc/hosts"), Array("127.0.0.1 \(name)\n".utf8), permissions: 0o644)
        case .writeUnitFile(_, let unitPath, let content), .writeDropIn(_, let unitPath, let content):
            try write(path(unitPath), Array(content.utf8), permissions: 0o644)
        case .maskUnit(_, let unitPath):
            let target = path(unitPath)
            try makeParents(target)
            unlink(target)
            guard symlink("/dev/null", target) == 0 else { throw BootError.file(path: target, errnoText("cannot link to /dev/null")) }
        case .unmaskUnit(_, let unitPath):
            let target = path(unitPath)
            let link = try? FileManager.default.destinationOfSymbolicLink(atPath: target)
            let size = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? nil
            if link == "/dev/null" || size == 0 { unlink(target) }
        case .enableUnit(let unit, let runtime):
            try await systemd.enable(unit, runtime: runtime)
        case .daemonReload:
            try await systemd.daemonReload()
        case .unitCommand(let unit, let command):
            try await systemd.queue(command, unit)
        case .startTransientUnit(let name, let execStart):
            guard root.isEmpty else { return }
            try HostCommand.run(["systemd-run", "--unit", name, "--no-block", "--collect"] + execStart)
        }
    }

    func path(_ p: String) -> String { root + p }

    // MARK: Files

    /// Writes `content` to a temporary file beside `target`, sets its mode (and owner), fsyncs it and
    /// renames it over `target`; parent directories are created 0755.
    func write(_ target: String, _ content: [UInt8], permissions: UInt16, owner: String? = nil) throws {
        try makeParents(target)
        let temp = target + ".fleetd-boot-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(permissions))
        guard fd >= 0 else { throw BootError.file(path: target, errnoText("cannot create")) }
        var written = 0
        let ok = content.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return true
        }
        let synced = ok && fsync(fd) == 0 && fchmod(fd, mode_t(permissions)) == 0
        close(fd)
        guard synced else {
            unlink(temp)
            throw BootError.file(path: target, errnoText("cannot write"))
        }
        if let owner {
            do { try chown(temp, owner) } catch { unlink(temp); throw error }
        }
        guard rename(temp, target) == 0 else {
            unlink(temp)
            throw BootError.file(path: target, errnoText("cannot rename into place"))
        }
    }

    func makeParents(_ target: String) throws {
        let parent = (target as NSString).deletingLastPathComponent
        guard !parent.isEmpty else { return }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        } catch {
            throw BootError.file(path: parent, "cannot create the directory: \(error.localizedDescription)")
        }
    }

    /// `user`, `user:group` or numeric IDs.
    func chown(_ file: String, _ owner: String) throws {
        let parts = owner.split(separator: ":", maxSplits: 1).map(String.init)
        guard let uid = userID(parts[0]) else { throw BootError.unknownOwner(parts[0]) }
        var gid = gid_t.max
        if parts.count == 2 {
            guard let g = groupID(parts[1]) else { throw BootError.unknownOwner(parts[1]) }
            gid = g
        }
        guard Glibc.chown(file, uid, gid) == 0 else { throw BootError.file(path: file, errnoText("cannot change owner to \(owner)")) }
    }

    func userID(_ name: String) -> uid_t? {
        if let n = UInt32(name) { return n }
        return getpwnam(name)?.pointee.pw_uid
    }

    func groupID(_ name: String) -> gid_t? {
        if let n = UInt32(name) { return n }
        return getgrnam(name)?.pointee.gr_gid
    }

    /// Sets `KEY=value` lines, keeping the file's other lines (or the template's, for a new file).
    func updateEnvironment(_ target: String, values: [EnvironmentEntry], template: String?) throws {
        let existing = (try? String(contentsOfFile: target, encoding: .utf8))
            ?? template.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
        var lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        for entry in values {
            let line = "\(entry.name)=\(entry.value)"
            if let index = lines.firstIndex(where: { $0.hasPrefix(entry.name + "=") }) {
                lines[index] = line
            } else {
                lines.append(line)
            }
        }
        try write(target, Array((lines.joined(separator: "\n") + "\n").utf8), permissions: 0o644)
    }

    // MARK: Users

    func ensureUser(_ user: CloudConfig.User) throws {
        if getpwnam(user.name) == nil {
            var argv = ["useradd"]
            if let gecos = user.gecos { argv += ["--comment", gecos] }
            if let home = user.homeDirectory { argv += ["--home-dir", home] }
            argv.append(user.noCreateHome ? "--no-create-home" : "--create-home")
            if let group = user.primaryGroup { argv += ["--gid", group] }
            if !user.groups.isEmpty { argv += ["--groups", user.groups.joined(separator: ",")] }
            if user.noUserGroup { argv.append("--no-user-group") }
            if user.system { argv.append("--system") }
            if user.noLogInit { argv.append("--no-log-init") }
            if let shell = user.shell { argv += ["--shell", shell] }
            if let hash = user.passwordHash { argv += ["--password", hash] }
            try HostCommand.run(argv + [user.name])
        } else if let hash = user.passwordHash {
            try HostCommand.run(["usermod", "--password", hash, user.name])
        }
        if !user.sshAuthorizedKeys.isEmpty {
            try authorize(user: user.name, keyName: "coreos-cloudinit", keys: user.sshAuthorizedKeys)
        }
    }

    /// Writes `~user/.ssh/authorized_keys.d/<keyName>` and regenerates `authorized_keys` from every
    /// file there (what CoreOS's update-ssh-keys did), owned by the user.
    func authorize(user: String, keyName: String, keys: [String]) throws {
        let home: String
        if root.isEmpty {
            guard let entry = getpwnam(user) else { throw BootError.unknownOwner(user) }
            home = String(cString: entry.pointee.pw_dir)
        } else {
            home = "/home/\(user)"
        }
        let sshDir = path(home + "/.ssh")
        let owner = root.isEmpty ? user : nil
        try write(sshDir + "/authorized_keys.d/" + keyName, Array((keys.joined(separator: "\n") + "\n").utf8),
                  permissions: 0o600, owner: owner)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: sshDir + "/authorized_keys.d")) ?? [])
            .filter { !$0.contains(".fleetd-boot-") }.sorted()
        var merged = ""
        for name in names {
            merged += (try? String(contentsOfFile: sshDir + "/authorized_keys.d/" + name, encoding: .utf8)) ?? ""
        }
        try write(sshDir + "/authorized_keys", Array(merged.utf8), permissions: 0o600, owner: owner)
    }

    func errnoText(_ what: String) -> String { "\(what): \(String(cString: strerror(errno)))" }
}
