/// The state-changing commands: submit, load, start, stop, unload, destroy (restart is in
/// `RestartCommand.swift`). Each writes desired states through the API, then — unless `--no-block`
/// or the unit is global — waits for the cluster to report them (see ``StateWaiter``).
///
/// Errors that concern the whole command (bad argument, API unreachable) are thrown before
/// anything is changed where possible; errors that concern one unit are printed on stderr, the
/// other units still proceed, and the returned exit code says that something failed.
public struct UnitCommands: Sendable {
    /// `--block-attempts` and `--no-block`.
    public struct Blocking: Sendable, Equatable {
        public var attempts: Int
        public var noBlock: Bool
        public init(attempts: Int = 0, noBlock: Bool = false) {
            self.attempts = attempts
            self.noBlock = noBlock
        }
    }

    let context: FleetctlContext
    var checks: UnitStateChecks { UnitStateChecks(context: context) }

    public init(context: FleetctlContext) { self.context = context }

    /// `submit`: every unit is in the registry afterwards; prints `Unit X inactive` for each
    /// unit this call created.
    public func submit(_ arguments: [String], replace: Bool) async throws(CLIError) -> FleetctlExitCode {
        let submitted = try await LazySubmit(context: context, replace: replace).ensureSubmitted(arguments)
        for s in submitted where s.created {
            context.console.out("Unit \(s.unit.name) \(s.unit.desiredState ?? "inactive")\n")
        }
        return .success
    }

    /// `load` (target `loaded`) and `start` (target `launched`, then systemd active).
    public func activate(_ arguments: [String], to target: String, replace: Bool, blocking: Blocking)
        async throws(CLIError) -> FleetctlExitCode
    {
        let verb = target == "launched" ? "start" : "load"
        for argument in arguments {
            let name = try LazySubmit.unitName(for: argument)
            if name.isTemplate { throw .cannotActivateTemplate(name.rawValue) }
        }
        let units = try await LazySubmit(context: context, replace: replace)
            .ensureSubmitted(arguments, desiredState: target).map(\.unit)
        // Units created just now already carry the target; only the others need the change.
        try await setDesiredStates(units.filter { $0.desiredState != target }.map(\.name), target)
        var goals: [StateWaiter.Goal] = []
        for unit in units {
            if unit.isGlobal {
                context.console.out("Triggered global unit \(unit.name) \(verb)\n")
            } else if blocking.noBlock {
                context.console.out("Triggered unit \(unit.name) \(verb)\n")
            } else {
                goals.append(checks.fleetState(unit.name, target, requireActive: target == "launched"))
            }
        }
        return report(await StateWaiter(context: context, attempts: blocking.attempts).wait(for: goals))
    }

    /// `stop` (target `loaded`) and `unload` (target `inactive`) of units already in the registry.
    public func deactivate(_ arguments: [String], to target: String, blocking: Blocking)
        async throws(CLIError) -> FleetctlExitCode
    {
        let verb = target == "loaded" ? "stop" : "unload"
        var errors: [CLIError] = []
        var goals: [StateWaiter.Goal] = []
        var changing: [APIUnit] = []
        for unit in try await existingUnits(arguments, errors: &errors) {
            if target == "loaded" && !unit.isGlobal && (unit.currentState ?? "inactive") == "inactive" {
                errors.append(.cannotStop(unit: unit.name, state: "inactive"))
                continue
            }
            changing.append(unit)
        }
        try await setDesiredStates(changing.map(\.name), target)
        let names = changing.map(\.name)
        for unit in changing {
            if unit.isGlobal {
                context.console.out("Triggered global unit \(unit.name) \(verb)\n")
            } else if blocking.noBlock {
                context.console.out("Triggered unit \(unit.name) \(verb)\n")
            } else {
                goals.append(checks.fleetState(unit.name, target))
            }
        }
        errors += await StateWaiter(context: context, attempts: blocking.attempts).wait(for: goals)
        if errors.isEmpty && !goals.isEmpty {
            let past = target == "loaded" ? "stopped" : "unloaded"
            context.console.err("Successfully \(past) units [\(names.joined(separator: " "))].\n")
        }
        return report(errors)
    }

    /// `destroy`: deletes each unit, then (blocking) waits until the registry no longer has it.
    public func destroy(_ arguments: [String], blocking: Blocking) async throws(CLIError) -> FleetctlExitCode {
        var errors: [CLIError] = []
        var goals: [StateWaiter.Goal] = []
        let units = try await existingUnits(arguments, errors: &errors)
        let outcomes = await BoundedConcurrency.map(units) { unit -> CLIError? in
            do throws(FleetAPIError) {
                try await context.api.destroyUnit(unit.name)
                return nil
            } catch .notFound {
                return .unitNotFound(unit.name)
            } catch {
                return .api(error, context: "destroying unit \(unit.name)")
            }
        }
        for (unit, failure) in zip(units, outcomes) {
            if let failure {
                errors.append(failure)
            } else if blocking.noBlock {
                context.console.out("Destroyed \(unit.name)\n")
            } else {
                goals.append(checks.gone(unit.name))
            }
        }
        errors += await StateWaiter(context: context, attempts: blocking.attempts).wait(for: goals)
        return report(errors)
    }

    /// The registry units named by `arguments`; a missing one becomes an error in `errors` (the
    /// others still proceed). Unreachable API or a bad name are thrown.
    func existingUnits(_ arguments: [String], errors: inout [CLIError]) async throws(CLIError) -> [APIUnit] {
        var units: [APIUnit] = []
        var seen = Set<String>()
        let names = try arguments.map { (argument: String) throws(CLIError) -> UnitName in
            try LazySubmit.unitName(for: argument)
        }
        let unique = names.filter { seen.insert($0.rawValue).inserted }
        let found = await BoundedConcurrency.map(unique) { name -> Result<APIUnit, CLIError> in
            do throws(CLIError) { return .success(try await checks.unit(name.rawValue)) } catch { return .failure(error) }
        }
        for result in found {
            switch result {
            case .success(let unit): units.append(unit)
            case .failure(.unitNotFound(let missing)): errors.append(.unitNotFound(missing))
            case .failure(let error): throw error
            }
        }
        return units
    }

    /// Sets the desired state of every named unit, concurrently (``BoundedConcurrency``); all are
    /// tried, then the first failure in the order of `names` is thrown.
    func setDesiredStates(_ names: [String], _ state: String) async throws(CLIError) {
        let outcomes = await BoundedConcurrency.map(names) { name -> CLIError? in
            do throws(CLIError) {
                try await setDesiredState(name, state)
                return nil
            } catch { return error }
        }
        if let first = outcomes.compactMap({ $0 }).first { throw first }
    }

    func setDesiredState(_ name: String, _ state: String) async throws(CLIError) {
        try await context.call("setting unit \(name) to \(state)") { () async throws(FleetAPIError) in
            try await context.api.setDesiredState(name, to: state)
        }
    }

    /// Prints each per-unit error on stderr and returns the most severe exit code.
    func report(_ errors: [CLIError]) -> FleetctlExitCode {
        for error in errors { context.console.err("\(error)\n") }
        return errors.map(\.exitCode).max { $0.rawValue < $1.rawValue } ?? .success
    }
}
