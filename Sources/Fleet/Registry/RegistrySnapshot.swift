/// A unit as stored: the validated unit (with its desired state) plus what others wrote about it.
public struct StoredUnit: Hashable, Sendable {
    /// Name, contents, parsed `[X-Fleet]` options and desired state (`job/<u>/target-state`;
    /// `inactive` when not yet written).
    public var unit: RegistryUnit
    /// The machine the engine scheduled it on (`job/<u>/target`).
    public var target: String?
    /// The agent's "launched" heartbeat (`job/<u>/job-state`): the machine running it.
    public var heartbeat: String?

    public init(unit: RegistryUnit, target: String? = nil, heartbeat: String? = nil) {
        self.unit = unit
        self.target = target
        self.heartbeat = heartbeat
    }

    public var name: String { unit.name.rawValue }
    public var desiredState: FleetState { unit.desiredState }
}

/// The whole registry at one store index: what the engine plans from.
///
/// Read by ``Registry/snapshot(quorum:)`` in a single recursive GET, so every record is from the same
/// moment. Records that could not be decoded are left out and listed in ``problems``; since the
/// scheduler leaves alone schedule entries of units it is not given, a bad record can never cause
/// an unschedule.
public struct RegistrySnapshot: Sendable {
    /// The store index of the read; watch from `index + 1`.
    public let index: UInt64
    /// Present machines (object not expired), metadata merged, sorted by ID.
    public let machines: [MachineState]
    /// Every readable unit, sorted by name.
    public let units: [StoredUnit]
    /// unit → machine IDs that published a systemd state for it.
    public let publishedStates: [String: Set<String>]
    /// Schedule entries of units that no longer exist (destroyed after scheduling).
    public let orphanTargets: [String: String]
    /// Records skipped as unreadable.
    public let problems: [RegistryError]

    init(
        index: UInt64, machines: [MachineState], units: [StoredUnit], publishedStates: [String: Set<String>],
        orphanTargets: [String: String], problems: [RegistryError]
    ) {
        self.index = index
        self.machines = machines
        self.units = units
        self.publishedStates = publishedStates
        self.orphanTargets = orphanTargets
        self.problems = problems
    }

    init(contents: RegistryContents, index: UInt64) {
        self.index = index
        machines = contents.machines
        units = contents.units
        publishedStates = contents.publishedStates
        orphanTargets = contents.orphanTargets
        problems = contents.problems
    }

    /// unit → machine, from `job/<u>/target` of existing units.
    public var schedule: [String: String] {
        var out: [String: String] = [:]
        for unit in units { if let target = unit.target { out[unit.name] = target } }
        return out
    }

    /// The current fleet state of `unit`, derived as fleet does at read time.
    public func currentState(of unit: StoredUnit) -> FleetState {
        let published = unit.target.map { publishedStates[unit.name]?.contains($0) ?? false } ?? false
        return FleetState.current(target: unit.target, targetPublishedState: published, heartbeat: unit.heartbeat)
    }
}
