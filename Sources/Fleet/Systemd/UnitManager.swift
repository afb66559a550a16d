import Foundation
import Synchronization

/// What the fleet agent needs from a machine's init system, kept small so that the agent can be tested
/// against a fake (the shape of fleet's own `UnitManager`).
///
/// `load`/`unload` change unit files but do not reload systemd: the agent calls ``reloadUnitFiles()``
/// once per batch, as fleet did, because a daemon-reload is expensive. Start and stop only enqueue jobs;
/// their outcome arrives through ``events()`` and ``unitStates(_:)``.
public protocol UnitManager: Sendable {
    /// Writes the unit file and makes systemd aware of it (link, and enable if it has `[Install]`).
    func load(_ name: String, contents: String) async throws
    /// Loads several unit files as ``load(_:contents:)`` does each; the result holds, per unit and in
    /// order, nil or the error that unit failed with (the others are loaded regardless). A manager
    /// can do it in fewer calls than one per unit (``SystemdUnitManager``: one `LinkUnitFiles`).
    func load(batch units: [UnitFileToLoad]) async -> [(any Error)?]
    /// Disables the unit, clears its failed state and removes its file. Stop it first.
    func unload(_ name: String) async throws
    /// Makes systemd re-read unit files (daemon-reload).
    func reloadUnitFiles() async throws
    /// Enqueues a start job; does not wait for it.
    func triggerStart(_ name: String) async throws
    /// Enqueues a stop job; does not wait for it.
    func triggerStop(_ name: String) async throws
    /// Names of the units this manager has loaded (its unit files on disk).
    func units() async throws -> [String]
    /// Current states of the named units; units systemd does not know come back as `not-found`.
    func unitStates(_ names: [String]) async throws -> [String: UnitState]
    /// State changes and job results as they happen; subscribe before triggering what you wait for.
    func events() async throws -> AsyncThrowingStream<UnitEvent, any Error>
}

/// One unit file of a ``UnitManager/load(batch:)``.
public struct UnitFileToLoad: Hashable, Sendable {
    public var name: String
    public var contents: String
    public init(name: String, contents: String) {
        self.name = name
        self.contents = contents
    }
}

extension UnitManager {
    /// One ``load(_:contents:)`` per unit, concurrently (at most ``BoundedConcurrency/defaultLimit``).
    public func load(batch units: [UnitFileToLoad]) async -> [(any Error)?] {
        await BoundedConcurrency.map(units) { unit -> (any Error)? in
            do {
                try await self.load(unit.name, contents: unit.contents)
                return nil
            } catch {
                return error
            }
        }
    }
}

/// ``UnitManager`` on real systemd: unit files live in a directory of their own (default
/// `/run/fleet/units`, as in fleet) and are linked into systemd's runtime search path, so they vanish
/// at reboot like the rest of the agent's state.
public final class SystemdUnitManager: UnitManager {
    /// The systemd client.
    public let systemd: SystemdManager
    /// The unit directory as systemd sees it (the paths passed to `LinkUnitFiles`).
    public let unitsDirectory: String
    /// Where systemd's root is from this process: "" normally, `/proc/<pid>/root` when driving a
    /// container's systemd from the host.
    public let hostRoot: String

    /// Files written since the last reload: which were new (no earlier file of ours) and whether any
    /// unit was unloaded. Decides whether a daemon-reload is needed (see ``reloadUnitFiles()``).
    private let sinceReload = Mutex(ChangesSinceReload())
    private let skipped = Atomic<Int>(0)

    struct ChangesSinceReload {
        var newUnits: Set<String> = []
        var replacedOrRemoved = false
    }

    /// How many daemon-reloads were found unnecessary and skipped.
    public var skippedReloads: Int { skipped.load(ordering: .relaxed) }

    /// Unit types fleet schedules (fleet's `Units()` keeps only these).
    public static let unitTypes: Set<String> = ["service", "socket", "timer", "path", "device", "mount", "automount"]

    public init(systemd: SystemdManager, unitsDirectory: String = "/run/fleet/units", hostRoot: String = "") {
        self.systemd = systemd
        self.unitsDirectory = unitsDirectory
        self.hostRoot = hostRoot
    }

    /// Rejects names that are not `NAME.TYPE` of a schedulable type, or that would escape the directory.
    public static func validate(_ name: String) throws {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, let type = parts.last, unitTypes.contains(String(type)), !parts[0].isEmpty,
            !name.contains("/"), name.utf8.count <= 255
        else { throw SystemdError.invalidUnitName(name) }
    }

    private var hostDirectory: String { hostRoot + unitsDirectory }

    public func load(_ name: String, contents: String) async throws {
        let path = try writeUnitFile(name, contents)
        let hostPath = hostRoot + path
        do {
            try await systemd.linkUnitFiles([path], runtime: true, force: true)
            if Self.hasInstallSection(contents) {
                try await systemd.enableUnitFiles([path], runtime: true, force: true)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: hostPath)
            throw error
        }
    }

    /// Writes every file, then links them all with one `LinkUnitFiles` call (and enables those with an
    /// `[Install]` section with one `EnableUnitFiles`). A survivor taking over a dead machine's units
    /// loaded 74 of them one call each in 0.2 s, 47 on the worker in 0.47 s (bench-fleet 2026-11-24
    /// 16:23 UTC), systemd answering one call at a time. If the shared call fails (one file systemd
    /// rejects), each unit is linked on its own so that only the bad ones fail.
    public func load(batch units: [UnitFileToLoad]) async -> [(any Error)?] {
        var errors = [(any Error)?](repeating: nil, count: units.count)
        var written: [Int] = []
        for (i, unit) in units.enumerated() {
            do {
                _ = try writeUnitFile(unit.name, unit.contents)
                written.append(i)
            } catch {
                errors[i] = error
            }
        }
        let paths = written.map { unitsDirectory + "/" + units[$0].name }
        let installable = written.filter { Self.hasInstallSection(units[$0].contents) }
        do {
            if !paths.isEmpty { try await systemd.linkUnitFiles(paths, runtime: true, force: true) }
            if !installable.isEmpty {
                try await systemd.enableUnitFiles(
                    installable.map { unitsDirectory + "/" + units[$0].name }, runtime: true, force: true)
            }
        } catch {
            // Find the culprits: link (and enable) each file on its own.
            let retried = await BoundedConcurrency.map(written) { i -> (any Error)? in
                let path = self.unitsDirectory + "/" + units[i].name
                do {
                    try await self.systemd.linkUnitFiles([path], runtime: true, force: true)
                    if Self.hasInstallSection(units[i].contents) {
                        try await self.systemd.enableUnitFiles([path], runtime: true, force: true)
                    }
                    return nil
                } catch {
                    return error
                }
            }
            for (i, failure) in zip(written, retried) where failure != nil {
                errors[i] = failure
                try? FileManager.default.removeItem(atPath: hostDirectory + "/" + units[i].name)
            }
        }
        return errors
    }

    public func unload(_ name: String) async throws {
        try Self.validate(name)
        sinceReload.withLock { $0.replacedOrRemoved = true }
        // Both must precede removing the file, or a later stop can hang (fleet's note).
        _ = try? await systemd.disableUnitFiles([name], runtime: true)
        do {
            try await systemd.resetFailedUnit(name)
        } catch let error as SystemdError where error.isNoSuchUnit {
            // Never loaded, or already gone: nothing to reset.
        }
        let hostPath = hostDirectory + "/" + name
        if FileManager.default.fileExists(atPath: hostPath) {
            do {
                try FileManager.default.removeItem(atPath: hostPath)
            } catch {
                throw SystemdError.unitFile(path: hostPath, operation: "remove", code: posixCode(error))
            }
        }
    }

    /// A daemon-reload (0.1–0.4 s on a busy machine, and it blocks systemd meanwhile) is needed when
    /// a file systemd may hold in memory changed or went away. A unit whose file is new needs none:
    /// once linked, systemd (≥ 246) loads it on first use, also when it had cached it as not-found,
    /// because the link changed its search path. So when every change since the last reload is a new
    /// file and systemd reports each of those units `loaded` from it, the reload is skipped.
    public func reloadUnitFiles() async throws {
        let changes = sinceReload.withLock { changes in
            defer { changes = ChangesSinceReload() }
            return changes
        }
        if !changes.replacedOrRemoved, !changes.newUnits.isEmpty,
           let statuses = try? await systemd.listUnits(names: changes.newUnits.sorted()),
           changes.newUnits.allSatisfy({ name in
               statuses.contains { $0.name == name && $0.state.loadState == .loaded && $0.state.activeState != .failed }
           })
        {
            skipped.add(1, ordering: .relaxed)
            return
        }
        do {
            try await systemd.reload()
        } catch {
            // Not reloaded: the next reload must not be skipped on the strength of new files alone.
            sinceReload.withLock { $0.replacedOrRemoved = true }
            throw error
        }
    }

    public func triggerStart(_ name: String) async throws {
        try await systemd.startUnit(name, mode: .replace)
    }

    public func triggerStop(_ name: String) async throws {
        try await systemd.stopUnit(name, mode: .replace)
    }

    public func units() async throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: hostDirectory) else { return [] }
        return names.filter { (try? Self.validate($0)) != nil }.sorted()
    }

    public func unitStates(_ names: [String]) async throws -> [String: UnitState] {
        var states: [String: UnitState] = [:]
        for status in try await systemd.listUnits(names: names) where names.contains(status.name) {
            states[status.name] = status.state
        }
        return states
    }

    public func events() async throws -> AsyncThrowingStream<UnitEvent, any Error> {
        try await systemd.events()
    }

    /// Throws ``SystemdError/unitNotLoaded(unit:loadState:)`` unless systemd loaded the unit, so a
    /// malformed unit file is reported at load time rather than as a failed start. Call after a reload.
    public func verifyLoaded(_ name: String) async throws {
        let state = try await systemd.unitState(name)
        if state.loadState != .loaded {
            throw SystemdError.unitNotLoaded(unit: name, loadState: state.loadState.rawValue)
        }
    }

    /// Whether a unit file has an `[Install]` section (then it is also enabled, as fleet did).
    public static func hasInstallSection(_ contents: String) -> Bool {
        contents.split(whereSeparator: \.isNewline).contains { $0.trimmingCharacters(in: .whitespaces) == "[Install]" }
    }

    /// Validates the name, notes whether the file is new (see ``reloadUnitFiles()``) and writes it;
    /// returns its path as systemd sees it.
    private func writeUnitFile(_ name: String, _ contents: String) throws -> String {
        try Self.validate(name)
        let hostPath = hostDirectory + "/" + name
        let existed = FileManager.default.fileExists(atPath: hostPath)
        sinceReload.withLock { changes in
            if existed { changes.replacedOrRemoved = true } else { changes.newUnits.insert(name) }
        }
        try writeFile(hostPath, contents)
        return unitsDirectory + "/" + name
    }

    private func writeFile(_ path: String, _ contents: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: hostDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        } catch {
            throw SystemdError.unitFile(path: path, operation: "write", code: posixCode(error))
        }
    }
}

/// The errno behind a Foundation file error, EIO when there is none.
func posixCode(_ error: any Error) -> Int32 {
    let error = error as NSError
    if error.domain == NSPOSIXErrorDomain { return Int32(error.code) }
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return Int32(underlying.code)
    }
    return EIO
}
