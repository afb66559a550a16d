/// `restart` that really restarts (fleet v1.0.0's was a no-op for non-global units because it
/// waited for `launched` twice): for each launched unit, set `loaded` and wait until systemd no
/// longer runs it, then set `launched` and wait until systemd reports it active again. Global units
/// go the same way through the API, on every machine that runs them. A unit that was not launched
/// is simply started. Both halves honour `--block-attempts`; restart always blocks, since a restart
/// that has not happened yet cannot be reported.
extension UnitCommands {
    public func restart(_ arguments: [String], attempts: Int) async throws(CLIError) -> FleetctlExitCode {
        var errors: [CLIError] = []
        let units = try await existingUnits(arguments, errors: &errors)
        let waiter = StateWaiter(context: context, attempts: attempts)

        let running = units.filter { $0.desiredState == "launched" }
        try await setDesiredStates(running.map(\.name), "loaded")
        let stopGoals = running.map { checks.systemdStopped($0.name, machineID: $0.isGlobal ? nil : $0.machineID) }
        let stopErrors = await waiter.wait(for: stopGoals)
        errors += stopErrors
        // A unit that did not stop is put back to launched, not left stopped half-way.
        let failedToStop = Set(stopErrors.compactMap(\.unitName))
        try await setDesiredStates(running.filter { failedToStop.contains($0.name) }.map(\.name), "launched")

        let starting = units.filter { !failedToStop.contains($0.name) }
        try await setDesiredStates(starting.map(\.name), "launched")
        var startGoals: [StateWaiter.Goal] = []
        for unit in starting {
            startGoals.append(
                unit.isGlobal
                    ? checks.systemdActiveEverywhere(unit.name)
                    : checks.fleetState(unit.name, "launched", requireActive: true))
        }
        errors += await waiter.wait(for: startGoals)
        return report(errors)
    }
}

extension CLIError {
    /// The unit a per-unit error is about, if it is one.
    var unitName: String? {
        switch self {
        case .timedOut(let unit, _), .unitFailed(let unit, _, _, _), .cannotStop(let unit, _): return unit
        case .unitNotFound(let unit), .notRunning(let unit), .cannotActivateTemplate(let unit): return unit
        default: return nil
        }
    }
}
