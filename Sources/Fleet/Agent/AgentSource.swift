/// What the agent needs from the cluster, and nothing more: the units this machine should run, a
/// place to publish unit states, and a nudge when the answer may have changed.
///
/// Kept separate from the registry so the agent can be written and tested without the store; the
/// store-backed registry adapts itself to this protocol. Every method may throw while the store is
/// unreachable: the agent then keeps what runs running and retries (fleet #373, #1119: a slow or
/// absent store must never stop units).
public protocol AgentSource: Sendable {
    /// The units `machine` should run (scheduled there, plus matching global units). Throws if the
    /// store cannot be read; an empty answer means "run nothing", so never return one on error.
    func desiredUnits(for machine: MachineState) async throws -> [DesiredUnit]

    /// Writes (or, for a nil record, deletes) the published state of each unit on this machine
    /// (`states/<unit>/<machineID>` and the legacy `state/<unit>` in fleet's layout).
    func publish(_ states: [PublishedUnitState]) async throws

    /// Declares that this machine runs exactly `units` (fleet's unit heartbeat, `job/<unit>/job-state =
    /// machineID` with TTL `agent_ttl`, from which "launched" is derived). Units heartbeated before
    /// and absent now are cleared. Called after passes that started or stopped units and on every
    /// full republish, so the TTL never runs out while the unit runs.
    func heartbeat(launched units: [String]) async throws

    /// As ``heartbeat(launched:)``; with `renew` false, units this source heartbeated before and
    /// still launched are not written again: only new units are set and departed ones cleared. The
    /// agent renews (`renew` true) on its periodic full republish, which comes well within the TTL;
    /// between those, a pass that started 40 units no longer rewrites the 200 already running.
    func heartbeat(launched units: [String], renew: Bool) async throws

    /// Fires whenever the desired units of some machine may have changed (schedule, target states,
    /// unit contents). Spurious notifications are fine: the agent just reconciles once more.
    /// Each call returns a new stream; it finishes when the source shuts down.
    func changes() async -> AsyncStream<Void>
}

extension AgentSource {
    /// Sources without a cheaper path always renew.
    public func heartbeat(launched units: [String], renew: Bool) async throws {
        try await heartbeat(launched: units)
    }
}

/// One unit's state to publish; `record == nil` removes the unit's state (the unit left this machine).
public struct PublishedUnitState: Hashable, Sendable, CustomStringConvertible {
    public var unit: String
    public var record: UnitStateRecord?

    public init(unit: String, record: UnitStateRecord?) {
        self.unit = unit
        self.record = record
    }

    public var description: String {
        guard let record else { return "\(unit): deleted" }
        return "\(unit): \(record.loadState)/\(record.activeState)/\(record.subState)"
    }
}

/// Why an ``AgentSource`` call failed, for sources that have no more specific error.
public enum AgentSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The store did not answer; the agent keeps running units and retries on its next pass.
    case unavailable(String)

    public var description: String {
        switch self {
        case .unavailable(let why):
            return "cluster store unavailable (\(why)); units keep running, retrying on the next pass"
        }
    }
}
