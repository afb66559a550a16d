/// A unit the cluster wants on this machine, as the agent needs it: what to write, how to recognise
/// it on disk (its hash) and whether to merely load it or also start it.
///
/// Derived from the registry by ``AgentSource``; the agent never looks at the schedule itself, which
/// keeps it independent of how the registry is stored.
public struct DesiredUnit: Hashable, Sendable, CustomStringConvertible {
    /// Unit name, e.g. `web@1.service`.
    public var name: String
    /// The text to write to the units directory (the file as submitted, `[X-Fleet]` included).
    public var contents: String
    /// The content hash the registry holds for the unit; a file on disk with another hash is replaced.
    public var hash: UnitHash
    /// `loaded` or `launched`; `inactive` units are never desired (they are simply absent).
    public var targetState: FleetState

    public init(name: String, contents: String, hash: UnitHash, targetState: FleetState) {
        self.name = name
        self.contents = contents
        self.hash = hash
        self.targetState = targetState
    }

    /// A desired unit from a registry unit; its contents are the submitted text when known, else the
    /// canonical serialisation (which hashes the same).
    public init(_ unit: RegistryUnit, targetState: FleetState? = nil) {
        self.init(
            name: unit.name.rawValue, contents: unit.file.originalText ?? unit.file.serialized, hash: unit.hash,
            targetState: targetState ?? unit.desiredState)
    }

    public var description: String { "\(name) (\(targetState), \(hash.short))" }

    /// The units `machine` should run given the whole registry: the ones scheduled there plus the
    /// matching global units (``Scheduler/unitsToRun(on:units:schedule:)``), sorted by name.
    ///
    /// A registry-backed ``AgentSource`` can call this on a snapshot; so does ``InMemoryAgentSource``.
    public static func toRun(on machine: MachineState, units: [RegistryUnit], schedule: [String: String])
        -> [DesiredUnit]
    {
        let names = Scheduler.unitsToRun(
            on: SchedulerMachine(machine), units: units.map(SchedulerUnit.init), schedule: schedule)
        var byName: [String: RegistryUnit] = [:]
        for unit in units { byName[unit.name.rawValue] = unit }
        return names.compactMap { byName[$0].map { DesiredUnit($0) } }.sorted { $0.name < $1.name }
    }
}
