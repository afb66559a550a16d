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
        var converged: Bool {
            launched == units && exactMachines == machines && globalStates == globalExpected
        }
        var description: String {
            "\(launched)/\(units) units launched, \(exactMachines)/\(machines) machines exact, "
                + "\(globalStates)/\(globalExpected) global states"
        }
    }

    let cluster: SimulatedCluster
    let units: SimulatedUnits

    func check() async -> Progress {
        var progress = Progress(units: units.scheduled.count, machines: cluster.machines.count)
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
