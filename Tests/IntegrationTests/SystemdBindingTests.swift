import Fleet
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The systemd binding against real systemd (PID 1 in a booted nspawn machine), reached from the host
/// through the machine's dbus-daemon or (via nsenter + systemd-stdio-bridge) its `/run/systemd/private`.
/// The tests share one machine (booting is the expensive part on a loaded 2-core host), each using its
/// own unit names; the suite is serialized.
@Suite(.serialized, .sharedMachine) struct SystemdBindingTests {
    /// How the host reaches the machine's systemd.
    enum Route: String, CaseIterable, Sendable {
        /// The machine's dbus-daemon (a bus client connection, signals routed by match rules).
        case systemBus
        /// systemd's private socket through nsenter + systemd-stdio-bridge (a direct connection).
        case privateBridge

        func address(_ machine: TestMachine) -> BusAddress {
            switch self {
            case .systemBus: return .machineSystemBus(rootPath: machine.rootPath)
            case .privateBridge: return .machinePrivateBridge(leaderPID: machine.leaderPID)
            }
        }
    }

    /// Connects to the suite's machine, runs `body`, and closes the connection.
    func withMachine(
        via route: Route = .systemBus, _ body: (Testbed, TestMachine, SystemdManager) async throws -> Void
    ) async throws {
        let shared = try #require(SharedMachine.current, "the suite's machine did not boot")
        let (bed, machine) = (shared.bed, shared.machine)
        let manager = try await SystemdManager.connect(route.address(machine))
        defer { manager.close() }
        try await body(bed, machine, manager)
    }

    /// Writes a unit file into the machine's `/run/fleet/units` and returns its in-machine path.
    func writeUnit(_ machine: TestMachine, _ name: String, _ contents: String) throws -> String {
        let directory = machine.rootPath + "/run/fleet/units"
        try ChildProcess.check(["mkdir", "-p", directory])
        let hostPath = directory + "/" + name
        guard let file = fopen(hostPath, "w") else { throw TestFailure("cannot write \(hostPath)") }
        fputs(contents, file)
        fclose(file)
        return "/run/fleet/units/" + name
    }

    @Test(arguments: Route.allCases)
    func unitLifecycleIsObservedThroughSignalsAndJournal(route: Route) async throws {
        try await withMachine(via: route) { bed, machine, manager in
            let unit = "fleet-hello-\(route.rawValue.lowercased()).service"
            let path = try writeUnit(
                machine, unit,
                """
                [Unit]
                Description=Hello from the binding test

                [Service]
                ExecStart=/bin/sh -c 'echo hello-from-fleet; echo second-line; exec sleep 1000'

                """)
            let changes = try await manager.linkUnitFiles([path], runtime: true, force: true)
            #expect(changes.contains { $0.type == "symlink" && $0.destination == path })
            try await manager.reload()
            let loaded = try await manager.unitState(unit)
            #expect(loaded.loadState == .loaded)
            #expect(loaded.activeState == .inactive)

            let events = try await manager.events()
            let job = try await manager.startUnit(unit)
            #expect(job.hasPrefix("/org/freedesktop/systemd1/job/"))
            let active = try await firstEvent(in: events, seconds: 60) { event in
                if case .stateChanged(let change) = event, change.unit == unit, change.activeState == .active {
                    return true
                }
                return false
            }
            if case .stateChanged(let change) = active { #expect(change.subState == "running") }
            #expect(try bed.run(on: machine, ["systemctl", "is-active", unit]).stdout.hasPrefix("active"))

            // The unit's output reaches its journal; read it from the host through the machine's root.
            let lines = try await withDeadline(seconds: 60) {
                var seen: [String] = []
                for try await entry in Journal.entries(
                    unit: unit, source: .osRoot(machine.rootPath), lines: 50, follow: true)
                {
                    seen.append(entry.message)
                    if seen.contains("second-line") { return seen }
                }
                return seen
            }
            #expect(lines.contains("hello-from-fleet"))
            let lastTwo = try await Journal.read(unit: unit, source: .osRoot(machine.rootPath), lines: 2)
            #expect(lastTwo.count == 2)

            // Following: from a known position, a restart's fresh output arrives while the reader waits on
            // the journal's inotify fd (through /proc/<pid>/root).
            let position = try #require(lastTwo.last?.cursor)
            let source = JournalSource.osRoot(machine.rootPath)
            let follower = Task {
                try await withDeadline(seconds: 60) {
                    var entries: [JournalEntry] = []
                    for try await entry in Journal.entries(unit: unit, source: source, after: position, follow: true) {
                        entries.append(entry)
                        if entry.message == "second-line" { break }
                    }
                    return entries
                }
            }
            let restart = try await manager.runJob(timeout: .seconds(60)) { try await manager.restartUnit(unit) }
            #expect(restart.result == .done)
            let followed = try await follower.value
            #expect(followed.contains { $0.message == "hello-from-fleet" })
            #expect(!followed.contains { $0.cursor == position })  // strictly after the position
            #expect(followed.contains { $0.message.contains("Stopping") })  // systemd's own lines about the unit

            let stop = try await manager.runJob(timeout: .seconds(60)) { try await manager.stopUnit(unit) }
            #expect(stop.result == .done)
            #expect(stop.unit == unit)
            _ = try await firstEvent(in: events, seconds: 60) { event in
                if case .stateChanged(let change) = event, change.unit == unit, change.activeState == .inactive {
                    return true
                }
                return false
            }
            #expect(try await manager.unitState(unit).activeState == .inactive)
        }
    }

    @Test func failingUnitBecomesFailedAndIsReset() async throws {
        try await withMachine { bed, machine, manager in
            let unit = "fleet-fails.service"
            let path = try writeUnit(
                machine, unit,
                """
                [Service]
                Type=oneshot
                ExecStart=/bin/false

                """)
            try await manager.linkUnitFiles([path])
            try await manager.reload()
            let events = try await manager.events()
            let removal = try await manager.runJob(timeout: .seconds(60)) { try await manager.startUnit(unit) }
            #expect(removal.result == .failed)
            _ = try await firstEvent(in: events, seconds: 60) { event in
                if case .stateChanged(let change) = event, change.unit == unit, change.activeState == .failed {
                    return true
                }
                return false
            }
            #expect(try await manager.unitState(unit).activeState == .failed)
            let failed = try await manager.listUnits().filter { $0.activeState == .failed }.map(\.name)
            #expect(failed.contains(unit))

            try await manager.resetFailedUnit(unit)
            #expect(try await manager.unitState(unit).activeState == .inactive)

            await #expect(throws: SystemdError.self) {
                try await manager.startUnitAndWait(unit, timeout: .seconds(60))
            }
        }
    }

    @Test func unknownUnitsAndMalformedFilesGiveClearErrors() async throws {
        try await withMachine { bed, machine, manager in
            do {
                try await manager.startUnit("no-such-unit.service")
                Issue.record("starting a missing unit succeeded")
            } catch let error as SystemdError {
                #expect(error.isNoSuchUnit)
                #expect(error.description.contains("no-such-unit.service"))
            }
            do {
                _ = try await manager.getUnit("no-such-unit.service")
                Issue.record("GetUnit of a missing unit succeeded")
            } catch let error as SystemdError {
                #expect(error.isNoSuchUnit)
            }

            // From the host, systemd's private socket refuses us (we are outside its PID namespace);
            // the error says so instead of failing the first call with "Connection terminated".
            do {
                _ = try await SystemdBus.connect(.machinePrivate(rootPath: machine.rootPath))
                Issue.record("the private socket accepted a peer from another PID namespace")
            } catch let error as SystemdError {
                guard case .connectionRefused = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(error.description.contains("private socket only accepts root in the same PID namespace"))
            }

            let unit = "fleet-broken.service"
            let path = try writeUnit(
                machine, unit,
                """
                [Service]
                this is not a unit file
                Type=whatever

                """)
            try await manager.linkUnitFiles([path])
            try await manager.reload()
            let state = try await manager.unitState(unit)
            #expect(state.loadState != .loaded)
            do {
                try await manager.startUnit(unit)
                Issue.record("starting a malformed unit succeeded")
            } catch let error as SystemdError {
                #expect(error.busErrorName != nil)
                #expect(error.description.contains(unit))
            }
        }
    }

    /// What fleetd does inside a machine: connect automatically (the private socket, as root), and tell
    /// systemd it is ready through sd_notify. Runs this test binary in the machine as a `Type=notify` unit
    /// (``InsideMachineProbe``); the start job only completes once READY=1 arrives.
    @Test func insideAMachineTheAgentUsesThePrivateSocketAndSdNotify() async throws {
        let executable = try #require(CommandLine.arguments.first)
        try #require(
            executable.hasPrefix(Testbed.repositoryRoot + "/"),
            "the test binary must live under the repository, which is bound into the machines")
        try await withMachine { bed, machine, manager in
            let unit = "fleet-probe.service"
            let events = try await manager.events()
            let run = try bed.run(
                on: machine,
                [
                    "systemd-run", "--unit=\(unit)", "--wait", "--quiet", "-p", "Type=notify",
                    "-p", "WatchdogSec=60", "--setenv=FLEET_SYSTEMD_PROBE=1",
                    executable, "--testing-library", "swift-testing", "--filter", "probeConnectsAndNotifies",
                ])
            let log = try await Journal.read(unit: unit, source: .osRoot(machine.rootPath), lines: 40)
            #expect(run.succeeded, "probe failed: \(run)\n\(log.map(\.message).joined(separator: "\n"))")
            // systemd saw READY=1: the unit went active (it had been activating until then).
            _ = try await firstEvent(in: events, seconds: 60) { event in
                if case .stateChanged(let change) = event, change.unit == unit, change.activeState == .active {
                    return true
                }
                return false
            }
            #expect(log.contains { $0.message.contains("probeConnectsAndNotifies") && $0.message.contains("passed") })
        }
    }

    /// ``SystemdUnitManager``, the agent-facing layer, on real systemd.
    @Test func unitManagerLoadsStartsStopsAndUnloadsAsTheAgentDoes() async throws {
        let shared = try #require(SharedMachine.current, "the suite's machine did not boot")
        let (bed, machine) = (shared.bed, shared.machine)
        let systemd = try await SystemdManager.connect(.machineSystemBus(rootPath: machine.rootPath))
        defer { systemd.close() }
        let units: any UnitManager = SystemdUnitManager(
            systemd: systemd, unitsDirectory: "/run/fleet/agent-units", hostRoot: machine.rootPath)
        let concrete = units as! SystemdUnitManager

        let unit = "fleet-agent@1.service"
        try await units.load(
            unit,
            contents: """
                [Service]
                ExecStart=/bin/sleep 1000

                [Install]
                WantedBy=multi-user.target

                """)
        try await units.load("fleet-bad.service", contents: "[Service]\nType=nonsense\n")
        try await units.reloadUnitFiles()
        #expect(try await units.units() == ["fleet-agent@1.service", "fleet-bad.service"])
        try await concrete.verifyLoaded(unit)
        #expect(try await systemd.unitProperty(unit, "UnitFileState") == "enabled-runtime")
        do {
            try await concrete.verifyLoaded("fleet-bad.service")
            Issue.record("a malformed unit file verified as loaded")
        } catch let error as SystemdError {
            #expect(error == .unitNotLoaded(unit: "fleet-bad.service", loadState: "bad-setting"))
        }

        let events = try await units.events()
        try await units.triggerStart(unit)
        _ = try await firstEvent(in: events, seconds: 60) { event in
            if case .stateChanged(let change) = event, change.unit == unit, change.activeState == .active {
                return true
            }
            return false
        }
        let states = try await units.unitStates([unit, "fleet-bad.service", "fleet-none.service"])
        #expect(states[unit] == UnitState(loadState: .loaded, activeState: .active, subState: "running"))
        #expect(states["fleet-bad.service"]?.loadState == .badSetting)
        #expect(states["fleet-none.service"]?.loadState == .notFound)

        // The binding's other calls, on a running unit.
        #expect(try await systemd.getUnit(unit) == BusPath.unitPath(unit))
        #expect(try await systemd.loadUnit(unit) == BusPath.unitPath(unit))
        #expect(try await systemd.listUnits().contains { $0.name == unit && $0.activeState == .active })
        let restart = try await systemd.runJob(timeout: .seconds(60)) { try await systemd.restartUnit(unit) }
        #expect(restart.result == .done)
        try await systemd.killUnit(unit, who: .all, signal: SIGKILL)
        _ = try await firstEvent(in: events, seconds: 60) { event in
            if case .stateChanged(let change) = event, change.unit == unit, change.activeState == .failed {
                return true
            }
            return false
        }

        try await units.triggerStop(unit)
        try await units.unload(unit)
        try await units.unload("fleet-bad.service")
        try await units.reloadUnitFiles()
        #expect(try await units.units().isEmpty)
        #expect(try await units.unitStates([unit])[unit]?.loadState == .notFound)
        let left = try bed.run(on: machine, ["ls", "/run/systemd/system"]).stdout
        #expect(!left.contains("fleet-agent"))

        // Closing the connection ends event sequences with a typed error instead of leaving them hanging.
        systemd.close()
        do {
            _ = try await firstEvent(in: events, seconds: 30) { _ in false }
            Issue.record("event stream survived close")
        } catch let error as SystemdError {
            guard case .disconnected = error else {
                Issue.record("unexpected error \(error)")
                return
            }
        }
    }
}

extension SystemdBindingTests {
    /// A new unit file needs no daemon-reload (systemd loads it on first use, even when it had been
    /// looked up before and cached as not-found); a changed file gets one, so systemd sees the change.
    @Test func newUnitFilesSkipTheReloadChangedFilesDoNot() async throws {
        let shared = try #require(SharedMachine.current, "the suite's machine did not boot")
        let machine = shared.machine
        let systemd = try await SystemdManager.connect(.machineSystemBus(rootPath: machine.rootPath))
        defer { systemd.close() }
        let units = SystemdUnitManager(systemd: systemd, unitsDirectory: "/run/fleet/reload-units", hostRoot: machine.rootPath)
        let unit = "fleet-fresh.service"
        #expect(try await units.unitStates([unit])[unit]?.loadState == .notFound)  // cached as not-found now

        try await units.load(unit, contents: "[Unit]\nDescription=first\n[Service]\nExecStart=/bin/sleep 1000\n")
        try await units.reloadUnitFiles()
        #expect(units.skippedReloads == 1)
        #expect(try await systemd.unitProperty(unit, "Description") == "first")
        let started = try await systemd.runJob(timeout: .seconds(60)) { try await systemd.startUnit(unit) }
        #expect(started.result == .done)

        // The same unit with new contents: reloaded, and systemd runs the new definition after a restart.
        try await units.load(unit, contents: "[Unit]\nDescription=second\n[Service]\nExecStart=/bin/sleep 1001\n")
        try await units.reloadUnitFiles()
        #expect(units.skippedReloads == 1)
        #expect(try await systemd.unitProperty(unit, "Description") == "second")

        try await units.triggerStop(unit)
        try await units.unload(unit)
        try await units.reloadUnitFiles()
        #expect(units.skippedReloads == 1)
        #expect(try await units.unitStates([unit])[unit]?.loadState == .notFound)
    }
}

/// Runs inside a test machine as a `Type=notify` unit started by
/// ``SystemdBindingTests/insideAMachineTheAgentUsesThePrivateSocketAndSdNotify()`` (this same test binary,
/// bind-mounted into the machine). Skipped everywhere else.
@Suite struct InsideMachineProbe {
    static let enabled = getenv("FLEET_SYSTEMD_PROBE").map { String(cString: $0) } == "1"

    @Test(.enabled(if: InsideMachineProbe.enabled)) func probeConnectsAndNotifies() async throws {
        // As root inside the machine, the automatic choice is systemd's private socket.
        #expect(BusAddress.automatic == .localPrivate)
        let manager = try await SystemdManager.connect()
        defer { manager.close() }
        // Before READY=1 a Type=notify unit is still activating.
        let state = try await manager.unitState("fleet-probe.service")
        #expect(state.activeState == .activating)
        let events = try await manager.events()
        let notifier = ServiceNotifier.fromEnvironment()
        #expect(notifier.isEnabled)
        let sent = try notifier.ready(status: "probe connected over \(manager.bus.address)")
        #expect(sent)
        try notifier.watchdog()
        // Signals reach a direct (private socket) connection too: READY=1 makes our own unit active.
        _ = try await firstEvent(in: events, seconds: 30) { event in
            if case .stateChanged(let change) = event, change.unit == "fleet-probe.service",
                change.activeState == .active
            {
                return true
            }
            return false
        }
    }
}

/// Boots one machine around a whole suite and tears it down afterwards (a suite-level scope, so the
/// machine is shut down even when tests fail); tests reach it through ``current``.
struct SharedMachine: SuiteTrait, TestScoping {
    struct Booted: Sendable {
        var bed: Testbed
        var machine: TestMachine
    }

    @TaskLocal static var current: Booted?

    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let bed = try await Testbed.boot("sdbind", machines: 1)
        defer { bed.shutdown() }
        try await Self.$current.withValue(Booted(bed: bed, machine: bed.machines[0])) {
            try await function()
        }
    }
}

extension Trait where Self == SharedMachine {
    /// One machine for the whole suite.
    static var sharedMachine: Self { Self() }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, failing after `seconds` (cancelling `body`); waits in tests must be bounded.
func withDeadline<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TestFailure("timed out after \(seconds) s")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// The first event matching `predicate`, bounded by `seconds`.
func firstEvent(
    in events: AsyncThrowingStream<UnitEvent, any Error>, seconds: Double,
    where predicate: @escaping @Sendable (UnitEvent) -> Bool
) async throws -> UnitEvent {
    try await withDeadline(seconds: seconds) {
        for try await event in events where predicate(event) { return event }
        throw TestFailure("event stream ended")
    }
}
