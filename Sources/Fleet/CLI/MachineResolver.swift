/// Finds the machine a command means: by machine-ID prefix (as fleet's `ssh` and our `--machine`
/// accept), or by the unit scheduled there. A name that fits both a machine and a unit, or several
/// machines, is refused rather than guessed.
public struct MachineResolver: Sendable {
    let context: FleetctlContext

    public init(context: FleetctlContext) { self.context = context }

    /// The one machine whose ID starts with `prefix`.
    public func machine(prefix: String) async throws(CLIError) -> APIMachine {
        let matches = try await machines().filter { $0.id.hasPrefix(prefix) }
        guard !prefix.isEmpty, let first = matches.first else { throw .machineNotFound(prefix) }
        guard matches.count == 1 else {
            throw .ambiguous("Machine ID prefix \"\(prefix)\" matches \(matches.count) machines: "
                + matches.map(\.id).joined(separator: ", "))
        }
        return first
    }

    /// The machine a unit is scheduled to.
    public func machine(ofUnit argument: String) async throws(CLIError) -> APIMachine {
        let name = try LazySubmit.unitName(for: argument).rawValue
        let unit = try await UnitStateChecks(context: context).unit(name)
        if unit.isGlobal {
            throw .ambiguous("Unit \(name) is global and runs on several machines; name a machine instead")
        }
        guard let id = unit.machineID else { throw .notRunning(name) }
        guard let machine = try await machines().first(where: { $0.id == id }) else {
            throw .machineNotFound(id)
        }
        return machine
    }

    /// `ssh NAME`: a machine-ID prefix or a unit; both or neither is an error.
    public func machine(named name: String) async throws(CLIError) -> APIMachine {
        let byPrefix = try await machines().filter { $0.id.hasPrefix(name) }
        let unitName = try? LazySubmit.unitName(for: name).rawValue
        var unit: APIUnit?
        if let unitName {
            unit = try await context.call("looking up unit \(unitName)") { () async throws(FleetAPIError) in
                try await context.api.unit(unitName)
            }
        }
        if !byPrefix.isEmpty && unit != nil {
            throw .ambiguous("\"\(name)\" matches both a machine and unit \(unitName!); use --machine or --unit")
        }
        if unit != nil { return try await machine(ofUnit: name) }
        return try await machine(prefix: name)
    }

    func machines() async throws(CLIError) -> [APIMachine] {
        try await context.call("listing machines") { () async throws(FleetAPIError) in
            try await context.api.machines()
        }
    }
}
