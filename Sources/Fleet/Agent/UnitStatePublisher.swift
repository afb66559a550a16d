/// Decides which unit states to write to the cluster: only those that changed since the last
/// successful publish (deep compare), plus everything on a periodic full republish that refreshes
/// their TTLs and repairs a store that lost them.
///
/// Pure bookkeeping, no I/O: the caller publishes the batch and calls ``confirm(_:)`` only when the
/// store accepted it, so a failed publish is simply retried by the next ``changes(current:)``.
public struct UnitStatePublisher: Hashable, Sendable {
    /// This machine, stamped into every record.
    public let machine: MachineState
    /// What the store holds from us, as far as we know.
    public private(set) var published: [String: UnitStateRecord] = [:]

    public init(machine: MachineState) {
        self.machine = machine
    }

    /// The record to publish for a unit, or nil when fleet would refuse it (no hash, no machine ID).
    public func record(for state: UnitState, hash: UnitHash?) -> UnitStateRecord? {
        guard let hash, !machine.id.isEmpty else { return nil }
        return UnitStateRecord(
            loadState: state.loadState.rawValue, activeState: state.activeState.rawValue,
            subState: state.subState, machineState: machine, unitHash: hash.hex)
    }

    /// Entries that differ from what was published: new or changed records, and deletions for units
    /// published before but absent from `current`. Sorted by unit name.
    public func changes(current: [String: UnitStateRecord]) -> [PublishedUnitState] {
        var out: [PublishedUnitState] = []
        for (unit, record) in current where published[unit] != record {
            out.append(PublishedUnitState(unit: unit, record: record))
        }
        for unit in published.keys where current[unit] == nil {
            out.append(PublishedUnitState(unit: unit, record: nil))
        }
        return out.sorted { $0.unit < $1.unit }
    }

    /// Every current record (refreshing TTLs) plus deletions of units no longer here.
    public func fullRepublish(current: [String: UnitStateRecord]) -> [PublishedUnitState] {
        var out = current.map { PublishedUnitState(unit: $0.key, record: $0.value) }
        for unit in published.keys where current[unit] == nil {
            out.append(PublishedUnitState(unit: unit, record: nil))
        }
        return out.sorted { $0.unit < $1.unit }
    }

    /// Records that the store accepted `batch`.
    public mutating func confirm(_ batch: [PublishedUnitState]) {
        for entry in batch { published[entry.unit] = entry.record }
    }
}
