import Synchronization
@testable import Fleet

/// An in-memory fleet cluster behind ``FleetAPI`` for fleetctl's command tests: it keeps units with
/// desired states, and lets the current state (fleet's and systemd's) follow the desired state a
/// few reads later, as the engine and agents would. Polls, not time, drive it, so tests need no
/// sleeping. Knobs make units unschedulable, failing, or the whole API unreachable.
actor FakeFleetCluster: FleetAPI {
    struct Stored {
        var unit: APIUnit
        /// Reads left until the current state catches up with the desired state.
        var lag: Int
        /// Per machine: systemd ActiveState (`active`, `inactive`, `failed`).
        var systemd: [String: String] = [:]
    }

    var machineList: [APIMachine]
    var stored: [String: Stored] = [:]
    /// Reads before a desired-state change shows (engine + agent latency).
    var convergeAfter = 2
    /// State reads still to come that show no state at all (served by a member that lags behind).
    var unreportedReads = 0
    /// Units the engine can never place.
    var unschedulable: Set<String> = []
    /// Units systemd fails to start.
    var failing: Set<String> = []
    /// Makes every call fail as if the socket were dead.
    var unreachable = false
    /// Every state-changing call, in order: "create X", "desired X loaded", "destroy X".
    var log: [String] = []
    /// How many times systemd started each unit (on any machine).
    var systemdStarts: [String: Int] = [:]
    var journalLines: [String] = []
    /// Units whose create the API refuses (500), to test per-unit failures among many.
    var refusingCreate: Set<String> = []
    /// How long every call takes (real time), so that concurrent callers overlap.
    var latency: Duration = .zero
    /// Calls in progress now, and the most seen at once.
    var inFlight = 0
    var maxInFlight = 0
    /// Every call by kind ("unit", "create", "desired", "states", "machines", ...), to count round trips.
    var calls: [String: Int] = [:]

    init(machines: [APIMachine] = FakeFleetCluster.threeMachines) { self.machineList = machines }

    static let threeMachines = [
        APIMachine(id: "000000000000000000000000f1ee7001", primaryIP: "127.0.0.1", metadata: ["az": "zone1", "machine": "m1"]),
        APIMachine(id: "000000000000000000000000f1ee7002", primaryIP: "127.0.0.2", metadata: ["az": "zone0", "machine": "m2"]),
        APIMachine(id: "000000000000000000000000f1ee7003", primaryIP: "127.0.0.3", metadata: ["az": "zone1", "machine": "m3"]),
    ]

    // MARK: knobs and inspection

    func set(unschedulable names: Set<String>) { unschedulable = names }
    func set(failing names: Set<String>) { failing = names }
    func set(unreachable value: Bool) { unreachable = value }
    func set(convergeAfter reads: Int) { convergeAfter = reads }
    func set(unreportedReads reads: Int) { unreportedReads = reads }
    func set(journal lines: [String]) { journalLines = lines }
    func set(refusingCreate names: Set<String>) { refusingCreate = names }
    func set(latency value: Duration) { latency = value }

    /// Puts a unit straight into the registry in a converged state (as if it had been there).
    func seed(_ name: String, text: String, desired: String) throws {
        let options = try UnitFile(parsing: text).apiOptions
        stored[name] = Stored(unit: APIUnit(name: name, options: options, desiredState: desired), lag: 0)
        converge(name)
    }

    func storedUnit(_ name: String) -> APIUnit? { stored[name]?.unit }

    // MARK: simulation

    private func check() throws(FleetAPIError) {
        if unreachable { throw .unreachable(endpoint: "unix:///var/run/fleet.sock", reason: "connection refused") }
    }

    /// Counts the call and, with a latency set, holds it that long (other calls run meanwhile).
    private func roundTrip(_ kind: String) async {
        calls[kind, default: 0] += 1
        guard latency > .zero else { return }
        inFlight += 1
        maxInFlight = max(maxInFlight, inFlight)
        try? await Task.sleep(for: latency)
        inFlight -= 1
    }

    /// One read of the cluster: every unit not yet converged comes one step closer.
    private func tick() {
        for name in stored.keys.sorted() where stored[name]!.lag > 0 {
            stored[name]!.lag -= 1
            if stored[name]!.lag == 0 { converge(name) }
        }
    }

    private func converge(_ name: String) {
        guard var s = stored[name] else { return }
        let desired = s.unit.desiredState ?? "inactive"
        let machines: [String]
        if s.unit.isGlobal {
            machines = desired == "inactive" ? [] : machineList.map(\.id)
            s.unit.currentState = nil
            s.unit.machineID = nil
        } else if desired == "inactive" || unschedulable.contains(name) {
            machines = []
            s.unit.currentState = "inactive"
            s.unit.machineID = nil
        } else {
            let id = s.unit.machineID ?? machineList[name.utf8.reduce(0) { $0 + Int($1) } % machineList.count].id
            machines = [id]
            s.unit.machineID = id
            s.unit.currentState = desired
        }
        var systemd: [String: String] = [:]
        for id in machines {
            let running = desired == "launched"
            let before = s.systemd[id]
            if running && failing.contains(name) {
                systemd[id] = "failed"
            } else {
                systemd[id] = running ? "active" : "inactive"
                if running && before != "active" { systemdStarts[name, default: 0] += 1 }
            }
        }
        s.systemd = systemd
        stored[name] = s
    }

    // MARK: FleetAPI

    func machines() async throws(FleetAPIError) -> [APIMachine] {
        await roundTrip("machines")
        try check()
        return machineList.sorted { $0.id < $1.id }
    }

    func units() async throws(FleetAPIError) -> [APIUnit] {
        await roundTrip("units")
        try check()
        tick()
        return stored.values.map(\.unit).sorted { $0.name < $1.name }
    }

    func unit(_ name: String) async throws(FleetAPIError) -> APIUnit? {
        await roundTrip("unit")
        try check()
        tick()
        return stored[name]?.unit
    }

    func createUnit(_ unit: APIUnit) async throws(FleetAPIError) {
        await roundTrip("create")
        try check()
        if refusingCreate.contains(unit.name) { throw .server(status: 500, message: "store unavailable") }
        guard !unit.options.isEmpty else { throw .server(status: 409, message: "unit has no options") }
        if (try? UnitName(unit.name))?.isTemplate == true, unit.desiredState != "inactive" {
            throw .server(status: 400, message: "cannot activate template \"\(unit.name)\"")
        }
        log.append("create \(unit.name) \(unit.desiredState ?? "")")
        var s = stored[unit.name] ?? Stored(unit: unit, lag: 0)
        s.unit.options = unit.options
        s.unit.desiredState = unit.desiredState ?? s.unit.desiredState ?? "inactive"
        s.lag = convergeAfter
        stored[unit.name] = s
    }

    func setDesiredState(_ name: String, to state: String) async throws(FleetAPIError) {
        await roundTrip("desired")
        try check()
        guard stored[name] != nil else { throw .notFound("unit does not exist") }
        if (try? UnitName(name))?.isTemplate == true, state != "inactive" {
            throw .server(status: 400, message: "cannot activate template \"\(name)\"")
        }
        log.append("desired \(name) \(state)")
        stored[name]!.unit.desiredState = state
        stored[name]!.lag = convergeAfter
    }

    func destroyUnit(_ name: String) async throws(FleetAPIError) {
        try check()
        guard stored[name] != nil else { throw .notFound("unit does not exist") }
        log.append("destroy \(name)")
        stored[name] = nil
    }

    func unitStates(machineID: String?, unitName: String?) async throws(FleetAPIError) -> [APIUnitState] {
        await roundTrip("states")
        try check()
        tick()
        if unreportedReads > 0 {
            unreportedReads -= 1
            return []
        }
        var states: [APIUnitState] = []
        for (name, s) in stored where unitName == nil || unitName == name {
            for (id, active) in s.systemd where machineID == nil || machineID == id {
                states.append(APIUnitState(
                    name: name, hash: s.unit.unitHash?.hex ?? "", machineID: id, systemdLoadState: "loaded",
                    systemdActiveState: active, systemdSubState: active == "active" ? "running" : (active == "failed" ? "failed" : "dead")))
            }
        }
        return states.sorted { ($0.name, $0.machineID) < ($1.name, $1.machineID) }
    }

    func patchMachineMetadata(_ ops: [APIMachineMetadataOp]) async throws(FleetAPIError) { try check() }

    func unitStatus(_ name: String, machineID: String?) async throws(FleetAPIError) -> String {
        try check()
        guard let s = stored[name] else { throw .notFound("unit does not exist") }
        guard let id = machineID, let active = s.systemd[id] else {
            throw .server(status: 404, message: "unit \(name) is not loaded on \(machineID ?? "any machine")")
        }
        return "● \(name) on \(id)\n   Active: \(active)"
    }

    func journal(_ name: String, machineID: String?, lines: Int, follow: Bool)
        async throws(FleetAPIError) -> AsyncThrowingStream<String, any Error>
    {
        try check()
        guard stored[name] != nil else { throw .notFound("unit does not exist") }
        let tail = Array(journalLines.suffix(lines))
        let extra = follow ? ["followed line 1", "followed line 2"] : []
        return AsyncThrowingStream { continuation in
            for line in tail + extra { continuation.yield(line) }
            continuation.finish()
        }
    }
}

/// A console that keeps what was written, for assertions.
final class CapturedConsole: Sendable {
    private let outText = Mutex("")
    private let errText = Mutex("")
    var out: String { outText.withLock { $0 } }
    var err: String { errText.withLock { $0 } }
    var console: Console {
        Console(out: { text in self.outText.withLock { $0 += text } }, err: { text in self.errText.withLock { $0 += text } })
    }
}

/// A context over `cluster` with a captured console, no real pauses, and `files` as the local disk.
func makeContext(_ cluster: FakeFleetCluster, _ captured: CapturedConsole, files: [String: String] = [:])
    -> FleetctlContext
{
    FleetctlContext(
        api: cluster, console: captured.console, pause: { _ in },
        readFile: { path in files[path] })
}
