import Fleet

/// Whether a ``SimulatedCluster`` has converged on its ``SimulatedUnits``: every non-global unit is
/// `launched` as the registry derives it (target set, state published by the target, heartbeat),
/// every global unit has a published state from each machine that should run it, and every fake
/// systemd runs (active) exactly the units the registry schedules there plus its global units.
struct ConvergenceCheck {
    struct Progress: CustomStringConvertible {
        var launched = 0
        var units = 0
        var exactMachines = 0
        var machines = 0
        var globalStates = 0
        var globalExpected = 0
        /// Units active in the fake systemds, and how many must be (scheduled + global instances).
        var systemdActive = 0
        var systemdExpected = 0
        var converged: Bool {
            launched == units && exactMachines == machines && globalStates == globalExpected
        }
        var description: String {
            "\(systemdActive)/\(systemdExpected) units active in the fake systemds, "
                + "\(launched)/\(units) units launched, \(exactMachines)/\(machines) machines exact, "
                + "\(globalStates)/\(globalExpected) global states"
        }
    }

    let cluster: SimulatedCluster
    let units: SimulatedUnits

    /// Whether the fake systemds run as many units as convergence needs. Cheap (a count per machine,
    /// no registry read), so it can be polled often; convergence is impossible before it holds,
    /// because each machine must run exactly its scheduled units plus its global ones.
    func systemdCount() -> (active: Int, expected: Int) {
        var active = 0
        var expected = units.scheduled.count
        for (i, machine) in cluster.machines.enumerated() {
            active += machine.systemd.activeCount
            expected += units.globals(onMachine: i).count
        }
        return (active, expected)
    }

    /// The full check: reads the whole registry. Only when ``systemdCount()`` is complete, since the
    /// read and its decoding cost enough CPU to slow the cluster it measures.
    func check() async -> Progress {
        var progress = Progress(units: units.scheduled.count, machines: cluster.machines.count)
        (progress.systemdActive, progress.systemdExpected) = systemdCount()
        guard progress.systemdActive >= progress.systemdExpected else { return progress }
        guard let snapshot = try? await cluster.registry.snapshot(quorum: false) else { return progress }
        var expected: [String: Set<String>] = [:]
        for unit in snapshot.units {
            if let target = unit.target { expected[target, default: []].insert(unit.name) }
            if snapshot.currentState(of: unit) == .launched { progress.launched += 1 }
        }
        for (i, machine) in cluster.machines.enumerated() {
            let globals = units.globals(onMachine: i)
            progress.globalExpected += globals.count
            for name in globals where snapshot.publishedStates[name]?.contains(machine.state.id) ?? false {
                progress.globalStates += 1
            }
            // The fake systemds are checked once the registry agrees (the check itself costs CPU).
            guard progress.launched == progress.units else { continue }
            let want = expected[machine.state.id, default: []].union(globals)
            guard let names = try? await machine.systemd.units(),
                let states = try? await machine.systemd.unitStates(names)
            else { continue }
            let active = Set(states.filter { $0.value.activeState == .active }.map(\.key))
            if active == want && Set(names) == want { progress.exactMachines += 1 }
        }
        return progress
    }
}
