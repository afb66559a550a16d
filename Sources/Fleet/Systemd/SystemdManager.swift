#if canImport(Glibc)
import Glibc
#endif

/// A client for systemd's Manager API (`org.freedesktop.systemd1.Manager`).
///
/// One typed method per D-Bus method the agent needs, plus ``events()``: unit state changes and job
/// results pushed by systemd as signals, not polled. Errors are ``SystemdError``; a D-Bus error reply is
/// ``SystemdError/dbus(member:error:)`` with systemd's error name and message.
public final class SystemdManager: Sendable {
    /// The underlying connection, for calls this type does not wrap.
    public let bus: SystemdBus
    let signals: SystemdSignals

    /// Wraps an open connection to systemd.
    public init(bus: SystemdBus) {
        self.bus = bus
        self.signals = SystemdSignals(bus: bus)
    }

    /// Connects to systemd: see ``BusAddress/automatic`` for the default choice.
    public static func connect(_ address: BusAddress = .automatic) async throws -> SystemdManager {
        SystemdManager(bus: try await SystemdBus.connect(address))
    }

    /// Closes the connection; event sequences end with ``SystemdError/disconnected(reason:)``.
    public func close() { bus.close() }

    static let destination = "org.freedesktop.systemd1"
    static let managerInterface = "org.freedesktop.systemd1.Manager"
    public static let unitInterface = "org.freedesktop.systemd1.Unit"

    static func manager(_ member: String) -> MethodCall {
        MethodCall(destination: destination, path: BusPath.manager, interface: managerInterface, member: member)
    }

    // MARK: Listing

    /// All units systemd has in memory (`ListUnits`). Disabled, inactive units are not included.
    public func listUnits() async throws -> [UnitStatus] {
        try await bus.call(Self.manager("ListUnits"), decode: Self.decodeUnitList)
    }

    /// The status of the named units (`ListUnitsByNames`), including inactive and unknown ones
    /// (those come back with load state `not-found`).
    public func listUnits(names: [String]) async throws -> [UnitStatus] {
        try await bus.call(
            Self.manager("ListUnitsByNames"), build: { try $0.append(names) }, decode: Self.decodeUnitList)
    }

    /// Load, active and sub state of one unit; `not-found/inactive/dead` for a unit systemd does not know.
    public func unitState(_ name: String) async throws -> UnitState {
        guard let status = try await listUnits(names: [name]).first(where: { $0.name == name }) else {
            throw SystemdError.unexpectedReply(member: "ListUnitsByNames", detail: "no row for \(name)")
        }
        return status.state
    }

    static func decodeUnitList(_ reader: BusMessageReader) throws -> [UnitStatus] {
        try reader.readArray(of: "(ssssssouso)") { reader in
            try reader.readStruct("ssssssouso") { reader in
                UnitStatus(
                    name: try reader.readString(), description: try reader.readString(),
                    loadState: LoadState(rawValue: try reader.readString()),
                    activeState: ActiveState(rawValue: try reader.readString()), subState: try reader.readString(),
                    following: try reader.readString(), path: try reader.readObjectPath(),
                    jobID: try reader.readUInt32(), jobType: try reader.readString(),
                    jobPath: try reader.readObjectPath())
            }
        }
    }

    // MARK: Units

    /// The object path of a loaded unit (`GetUnit`); fails with `NoSuchUnit` if it is not loaded.
    public func getUnit(_ name: String) async throws -> String {
        try await bus.call(Self.manager("GetUnit"), build: { try $0.append(name) }) { try $0.readObjectPath() }
    }

    /// The object path of a unit, loading it from disk if needed (`LoadUnit`).
    public func loadUnit(_ name: String) async throws -> String {
        try await bus.call(Self.manager("LoadUnit"), build: { try $0.append(name) }) { try $0.readObjectPath() }
    }

    /// Reads a string property of a unit (`org.freedesktop.DBus.Properties.Get`), e.g. `ActiveState`, `Id`.
    public func unitProperty(_ name: String, _ property: String, interface: String = SystemdManager.unitInterface)
        async throws -> String
    {
        let call = MethodCall(
            destination: Self.destination, path: BusPath.unitPath(name),
            interface: "org.freedesktop.DBus.Properties", member: "Get")
        return try await bus.call(
            call,
            build: { writer in
                try writer.append(interface)
                try writer.append(property)
            }
        ) { reader in
            guard let value = try reader.readStringVariant() else {
                throw reader.failure("\(property) is not a string")
            }
            return value
        }
    }

    // MARK: Jobs

    /// Enqueues a start job (`StartUnit`) and returns the job's object path without waiting for it;
    /// see ``runJob(timeout:_:)`` to wait for the result.
    @discardableResult
    public func startUnit(_ name: String, mode: JobMode = .replace) async throws -> String {
        try await job("StartUnit", name, mode)
    }

    /// Enqueues a stop job (`StopUnit`); returns the job path.
    @discardableResult
    public func stopUnit(_ name: String, mode: JobMode = .replace) async throws -> String {
        try await job("StopUnit", name, mode)
    }

    /// Enqueues a restart job (`RestartUnit`); returns the job path.
    @discardableResult
    public func restartUnit(_ name: String, mode: JobMode = .replace) async throws -> String {
        try await job("RestartUnit", name, mode)
    }

    /// Enqueues any of the Manager's unit jobs by method name (`ReloadUnit`, `TryRestartUnit`, …);
    /// returns the job path.
    @discardableResult
    public func unitJob(_ method: String, _ name: String, mode: JobMode = .replace) async throws -> String {
        try await job(method, name, mode)
    }

    private func job(_ member: String, _ name: String, _ mode: JobMode) async throws -> String {
        try await bus.call(
            Self.manager(member),
            build: { writer in
                try writer.append(name)
                try writer.append(mode.rawValue)
            }
        ) { try $0.readObjectPath() }
    }

    /// Sends a signal to a unit's processes (`KillUnit`).
    public func killUnit(_ name: String, who: KillWho = .all, signal: Int32 = SIGTERM) async throws {
        try await bus.call(Self.manager("KillUnit")) { writer in
            try writer.append(name)
            try writer.append(who.rawValue)
            try writer.append(signal)
        }
    }

    /// Clears a unit's `failed` state (`ResetFailedUnit`).
    public func resetFailedUnit(_ name: String) async throws {
        try await bus.call(Self.manager("ResetFailedUnit")) { try $0.append(name) }
    }

    /// Enqueues a job with `enqueue` and waits for its `JobRemoved`, bounded by `timeout`.
    ///
    /// Subscribes before enqueueing, as the D-Bus API documentation asks, so a job that finishes at once
    /// is not missed. Returns the removal whatever its result; check ``JobRemoval/result``.
    public func runJob(timeout: Duration = .seconds(90), _ enqueue: @Sendable () async throws -> String)
        async throws -> JobRemoval
    {
        let events = try await self.events()
        let job = try await enqueue()
        return try await withDeadline(timeout, operation: "waiting for job \(job)") {
            for try await event in events {
                if case .jobRemoved(let removal) = event, removal.job == job { return removal }
            }
            throw SystemdError.disconnected(reason: "event stream ended while waiting for job \(job)")
        }
    }

    /// Starts a unit and waits for the job; throws ``SystemdError/jobFailed(unit:job:result:)`` unless
    /// the result is `done`.
    public func startUnitAndWait(_ name: String, mode: JobMode = .replace, timeout: Duration = .seconds(90))
        async throws
    {
        let removal = try await runJob(timeout: timeout) { try await self.startUnit(name, mode: mode) }
        if removal.result != .done {
            throw SystemdError.jobFailed(unit: name, job: removal.job, result: removal.result.rawValue)
        }
    }

    /// Stops a unit and waits for the job; throws unless the result is `done`.
    public func stopUnitAndWait(_ name: String, mode: JobMode = .replace, timeout: Duration = .seconds(90))
        async throws
    {
        let removal = try await runJob(timeout: timeout) { try await self.stopUnit(name, mode: mode) }
        if removal.result != .done {
            throw SystemdError.jobFailed(unit: name, job: removal.job, result: removal.result.rawValue)
        }
    }

    // MARK: Unit files

    /// Links unit files that live outside the search path (`LinkUnitFiles`). `runtime` links into `/run`
    /// (gone at reboot), `force` replaces existing links. Paths are as systemd sees them.
    @discardableResult
    public func linkUnitFiles(_ paths: [String], runtime: Bool = true, force: Bool = true) async throws
        -> [UnitFileChange]
    {
        try await bus.call(
            Self.manager("LinkUnitFiles"),
            build: { writer in
                try writer.append(paths)
                try writer.append(runtime)
                try writer.append(force)
            }, decode: Self.decodeChanges)
    }

    /// Enables unit files per their `[Install]` section (`EnableUnitFiles`).
    @discardableResult
    public func enableUnitFiles(_ files: [String], runtime: Bool = true, force: Bool = true) async throws
        -> (carriesInstallInfo: Bool, changes: [UnitFileChange])
    {
        let result: EnableResult = try await bus.call(
            Self.manager("EnableUnitFiles"),
            build: { writer in
                try writer.append(files)
                try writer.append(runtime)
                try writer.append(force)
            }
        ) { reader in EnableResult(carriesInstallInfo: try reader.readBool(), changes: try Self.decodeChanges(reader)) }
        return (result.carriesInstallInfo, result.changes)
    }

    /// Disables unit files (`DisableUnitFiles`), removing their symlinks (runtime ones when `runtime`).
    @discardableResult
    public func disableUnitFiles(_ files: [String], runtime: Bool = true) async throws -> [UnitFileChange] {
        try await bus.call(
            Self.manager("DisableUnitFiles"),
            build: { writer in
                try writer.append(files)
                try writer.append(runtime)
            }, decode: Self.decodeChanges)
    }

    /// Reloads all unit files (`Reload`, i.e. `systemctl daemon-reload`). Can take seconds on a busy host.
    public func reload(timeout: Duration = .seconds(90)) async throws {
        try await bus.call(Self.manager("Reload"), timeout: timeout)
    }

    /// Asks systemd to emit signals (`Subscribe`). ``events()`` does this for you.
    public func subscribe() async throws {
        try await bus.call(Self.manager("Subscribe"))
    }

    private struct EnableResult: Sendable {
        var carriesInstallInfo: Bool
        var changes: [UnitFileChange]
    }

    static func decodeChanges(_ reader: BusMessageReader) throws -> [UnitFileChange] {
        try reader.readArray(of: "(sss)") { reader in
            try reader.readStruct("sss") { reader in
                UnitFileChange(
                    type: try reader.readString(), file: try reader.readString(), destination: try reader.readString())
            }
        }
    }

    // MARK: Events

    /// Unit state changes, job removals and reloads, as systemd emits them.
    ///
    /// The first call installs the matches and calls `Subscribe`; every call returns an independent
    /// sequence that buffers from the moment this returns, so subscribe before triggering what you want
    /// to observe. The sequence ends with an error when the connection is lost or the manager released.
    /// Each sequence buffers without bound until iterated: drop sequences you no longer read.
    public func events() async throws -> AsyncThrowingStream<UnitEvent, any Error> {
        try await signals.stream()
    }
}

/// Runs `body`, failing with ``SystemdError/timedOut(operation:seconds:)`` after `timeout`.
/// `body` must be cancellable (async sequence iteration and sleeps are).
func withDeadline<T: Sendable>(
    _ timeout: Duration, operation: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            throw SystemdError.timedOut(operation: operation, seconds: seconds)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}
