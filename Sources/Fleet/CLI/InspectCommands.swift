/// The read-only commands: the three list tables, `cat`, `status` and `journal`. status and
/// journal go through the API (the unit's machine answers via fleetd), so unlike fleet they need no
/// SSH agent and work for global units (one machine at a time, or `--machine`).
public struct InspectCommands: Sendable {
    let context: FleetctlContext
    var checks: UnitStateChecks { UnitStateChecks(context: context) }

    public init(context: FleetctlContext) { self.context = context }

    public func listMachines(_ options: ListTables.Options) async throws(CLIError) -> FleetctlExitCode {
        try print(ListTables.machines(await machines(), options))
    }

    public func listUnits(_ options: ListTables.Options) async throws(CLIError) -> FleetctlExitCode {
        let states = try await context.call("listing unit states") { () async throws(FleetAPIError) in
            try await context.api.unitStates(machineID: nil, unitName: nil)
        }
        return try print(ListTables.units(states, machines: await machines(), options))
    }

    public func listUnitFiles(_ options: ListTables.Options) async throws(CLIError) -> FleetctlExitCode {
        let units = try await context.call("listing units") { () async throws(FleetAPIError) in
            try await context.api.units()
        }
        return try print(ListTables.unitFiles(units, machines: await machines(), options))
    }

    /// `cat`: the stored unit, re-serialised from its options as fleet does.
    public func cat(_ argument: String) async throws(CLIError) -> FleetctlExitCode {
        let name = try LazySubmit.unitName(for: argument)
        let unit = try await checks.unit(name.rawValue)
        guard let file = unit.unitFile else {
            throw .local("Unit \(name) in the registry has options that do not form a unit file")
        }
        context.console.out(file.serialized)
        return .success
    }

    /// `status`: systemd's status text of each unit from the machine(s) running it.
    public func status(_ arguments: [String], machine: String?) async throws(CLIError) -> FleetctlExitCode {
        var errors: [CLIError] = []
        var first = true
        for argument in arguments {
            let name = try LazySubmit.unitName(for: argument).rawValue
            do {
                for machineID in try await machinesRunning(name, machine: machine) {
                    let text = try await context.call("reading the status of unit \(name)") {
                        () async throws(FleetAPIError) in
                        try await context.api.unitStatus(name, machineID: machineID)
                    }
                    if !first { context.console.out("\n") }
                    first = false
                    context.console.out(text.hasSuffix("\n") || text.isEmpty ? text : text + "\n")
                }
            } catch {
                if error.exitCode == .unreachable { throw error }
                errors.append(error)
            }
        }
        return UnitCommands(context: context).report(errors)
    }

    /// `journal`: the last `lines` journal lines of a unit, then with `follow` new ones as they come.
    public func journal(_ argument: String, lines: Int, follow: Bool, machine: String?)
        async throws(CLIError) -> FleetctlExitCode
    {
        guard lines >= 0 else { throw .usage("journal: --lines must be 0 or more, not \(lines)") }
        let name = try LazySubmit.unitName(for: argument).rawValue
        let machineIDs = try await machinesRunning(name, machine: machine)
        guard machineIDs.count == 1, let machineID = machineIDs.first else {
            throw .ambiguous(
                "Unit \(name) runs on \(machineIDs.count) machines; choose one with --machine (see list-units)")
        }
        let stream = try await context.call("reading the journal of unit \(name)") { () async throws(FleetAPIError) in
            try await context.api.journal(name, machineID: machineID, lines: lines, follow: follow)
        }
        do {
            for try await line in stream {
                context.console.out(line.hasSuffix("\n") ? line : line + "\n")
            }
        } catch {
            throw .local("journal of unit \(name) ended: \(error)")
        }
        return .success
    }

    /// The machines whose unit state status/journal should read: the `--machine` choice (an ID
    /// prefix), else the unit's target machine, else (global units) every machine with a state.
    func machinesRunning(_ name: String, machine: String?) async throws(CLIError) -> [String] {
        let unit = try await checks.unit(name)
        if let machine { return [try await MachineResolver(context: context).machine(prefix: machine).id] }
        if !unit.isGlobal {
            guard let id = unit.machineID, (unit.currentState ?? "inactive") != "inactive" else {
                throw .notRunning(name)
            }
            return [id]
        }
        let ids = try await checks.states(name, machineID: nil).map(\.machineID)
        guard !ids.isEmpty else { throw .notRunning(name) }
        return ids
    }

    func machines() async throws(CLIError) -> [APIMachine] {
        try await context.call("listing machines") { () async throws(FleetAPIError) in
            try await context.api.machines()
        }
    }

    private func print(_ output: ListTables.Output) -> FleetctlExitCode {
        for warning in output.warnings { context.console.err(warning + "\n") }
        context.console.out(output.table)
        return .success
    }
}
