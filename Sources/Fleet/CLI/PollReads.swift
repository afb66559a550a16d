import Synchronization

/// What the checks of one ``StateWaiter`` poll read through the API, each read made at most once
/// per poll however many units ask for it.
///
/// Why: a blocking `fleetctl start` of 1,000 units checked each unit with its own requests (the
/// unit, the machine list for its label, its systemd state): about 3,000 API calls per poll, every
/// 50 ms in the first second, each several store reads, on the very cluster that was starting the
/// units (fleet's fleetctl did the same, at 250 ms). From ``bulkThreshold`` units on, a poll lists
/// the units and the states once (paged) and answers every check from those listings; the machine
/// list is read once per poll in any case. Fewer units keep per-unit requests, which cost less than
/// listing a large registry.
public final class PollReads: Sendable {
    /// From this many units waited for, a poll reads listings instead of per-unit requests.
    public static let bulkThreshold = LazySubmit.listingThreshold

    let context: FleetctlContext
    /// Whether this poll answers from listings.
    public let bulk: Bool
    private let machines = PollOnce<MachineLabel>()
    private let units = PollOnce<[String: APIUnit]>()
    private let states = PollOnce<[String: [APIUnitState]]>()

    public init(context: FleetctlContext, units count: Int) {
        self.context = context
        bulk = count >= Self.bulkThreshold
    }

    /// The unit, or nil when the registry does not have it.
    func unitIfPresent(_ name: String) async throws(CLIError) -> APIUnit? {
        guard bulk else {
            return try await context.call("looking up unit \(name)") { () async throws(FleetAPIError) in
                try await context.api.unit(name)
            }
        }
        return try await units.value { [context] () async throws(CLIError) in
            let listed = try await context.call("listing units") { () async throws(FleetAPIError) in
                try await context.api.units()
            }
            return Dictionary(listed.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }[name]
    }

    /// The unit; `unitNotFound` when the registry does not have it.
    func unit(_ name: String) async throws(CLIError) -> APIUnit {
        guard let unit = try await unitIfPresent(name) else { throw .unitNotFound(name) }
        return unit
    }

    /// Machine labels (`abcd1234.../10.0.0.1`) from this poll's one machine listing.
    func machineLabel() async throws(CLIError) -> MachineLabel {
        return try await machines.value { [context] () async throws(CLIError) in
            let listed = try await context.call("listing machines") { () async throws(FleetAPIError) in
                try await context.api.machines()
            }
            return MachineLabel(machines: listed, full: false)
        }
    }

    /// systemd's states of `name`, on `machineID` only when given, in the API's order.
    func states(_ name: String, machineID: String?) async throws(CLIError) -> [APIUnitState] {
        guard bulk else {
            return try await context.call("reading the state of unit \(name)") { () async throws(FleetAPIError) in
                try await context.api.unitStates(machineID: machineID, unitName: name)
            }
        }
        let all = try await states.value { [context] () async throws(CLIError) in
            let listed = try await context.call("reading unit states") { () async throws(FleetAPIError) in
                try await context.api.unitStates(machineID: nil, unitName: nil)
            }
            var byUnit: [String: [APIUnitState]] = [:]
            for state in listed { byUnit[state.name, default: []].append(state) }
            return byUnit
        }
        let ofUnit = all[name] ?? []
        guard let machineID else { return ofUnit }
        return ofUnit.filter { $0.machineID == machineID }
    }
}

/// One read shared by the concurrent checks of a poll: the first caller starts it, the others
/// await the same result (a failure included).
final class PollOnce<Value: Sendable>: Sendable {
    private let task = Mutex<Task<Result<Value, CLIError>, Never>?>(nil)

    func value(_ read: @escaping @Sendable () async throws(CLIError) -> Value) async throws(CLIError) -> Value {
        let running = task.withLock { task in
            if let task { return task }
            let started = Task { () async -> Result<Value, CLIError> in
                do throws(CLIError) { return .success(try await read()) } catch { return .failure(error) }
            }
            task = started
            return started
        }
        return try await running.value.get()
    }
}
