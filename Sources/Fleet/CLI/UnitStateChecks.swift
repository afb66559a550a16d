import Synchronization

/// The polls behind blocking commands, as ``StateWaiter/Goal``s: a unit reaching a fleet state
/// (`inactive`, `loaded`, `launched`), additionally systemd reporting it active, systemd reporting
/// it no longer active (the stop half of `restart`), or the unit being gone (`destroy`).
///
/// Result lines use fleet's wording: `Unit X loaded on 00000000.../10.0.0.1`, `Unit X inactive`,
/// `Destroyed X`.
struct UnitStateChecks: Sendable {
    let context: FleetctlContext

    /// systemd ActiveStates in which a unit is, or is becoming, active.
    static let runningStates: Set<String> = ["active", "activating", "reloading", "deactivating"]
    /// How many consecutive polls systemd may report `failed` before `start` gives up on a unit
    /// (one attempt window; a failed state left from a previous run clears sooner than that).
    static let failedPollLimit = StateWaiter.polls(covering: StateWaiter.attemptWindow)

    func unit(_ name: String) async throws(CLIError) -> APIUnit {
        let unit = try await context.call("looking up unit \(name)") { () async throws(FleetAPIError) in
            try await context.api.unit(name)
        }
        guard let unit else { throw .unitNotFound(name) }
        return unit
    }

    func states(_ name: String, machineID: String?) async throws(CLIError) -> [APIUnitState] {
        try await PollReads(context: context, units: 1).states(name, machineID: machineID)
    }

    /// The unit's fleet current state equals `state`; for `launched` with `requireActive`, systemd
    /// on its machine must also report it loaded and active (fleet's `start` semantics).
    func fleetState(_ name: String, _ state: String, requireActive: Bool = false) -> StateWaiter.Goal {
        let failedPolls = PollCounter()
        return StateWaiter.Goal(unit: name, state: state) { reads async throws(CLIError) -> StateWaiter.Status in
            let unit = try await reads.unit(name)
            let current = unit.currentState ?? "inactive"
            if state == "inactive" {
                return current == "inactive" ? .done("Unit \(name) inactive") : .waiting("\(current)")
            }
            let label = try await reads.machineLabel()
            let place = unit.machineID.map { " on " + label.label($0) } ?? ""
            guard current == state else {
                return .waiting(unit.machineID == nil ? "\(current), not scheduled yet" : "\(current)\(place)")
            }
            guard requireActive else { return .done("Unit \(name) \(state)\(place)") }
            let systemd = try await reads.states(name, machineID: unit.machineID).first
            let active = systemd?.systemdActiveState ?? "unknown"
            if active == "active" && systemd?.systemdLoadState == "loaded" {
                return .done("Unit \(name) \(state)\(place)")
            }
            let failed = failedPolls.count.withLock { count in
                count = active == "failed" ? count + 1 : 0
                return count
            }
            if failed >= Self.failedPollLimit {
                return .failed(.unitFailed(unit: name, machine: String(place.dropFirst(4)), activeState: active,
                                           subState: systemd?.systemdSubState ?? "unknown"))
            }
            return .waiting("\(state)\(place), systemd ActiveState=\(active)")
        }
    }

    /// systemd no longer runs the unit on any machine where it has a state (stop half of restart).
    /// With its machine known, a state from that machine must be there and say so: no state at all
    /// is no evidence (a read served by a member that has not applied the machine's report yet, right
    /// after a fail-over), and taking it for "stopped" let restart set `launched` again before the
    /// agent ever saw `loaded`, so nothing was restarted.
    func systemdStopped(_ name: String, machineID: String?) -> StateWaiter.Goal {
        StateWaiter.Goal(unit: name, state: "stopped") { reads async throws(CLIError) -> StateWaiter.Status in
            let states = try await reads.states(name, machineID: machineID)
            if let machineID, states.isEmpty {
                let label = try await reads.machineLabel()
                return .waiting("no state reported by \(label.label(machineID)) yet")
            }
            guard let first = states.first(where: { Self.runningStates.contains($0.systemdActiveState) }) else {
                return .done(nil)
            }
            let label = try await reads.machineLabel()
            return .waiting("\(first.systemdActiveState) on \(label.label(first.machineID))")
        }
    }

    /// systemd runs the unit (active and loaded) on every machine that has a state for it, and on
    /// at least one: the start half of restarting a global unit.
    func systemdActiveEverywhere(_ name: String) -> StateWaiter.Goal {
        StateWaiter.Goal(unit: name, state: "launched") { reads async throws(CLIError) -> StateWaiter.Status in
            let all = try await reads.states(name, machineID: nil)
            let label = try await reads.machineLabel()
            if let waiting = all.first(where: { $0.systemdActiveState != "active" || $0.systemdLoadState != "loaded" }) {
                return .waiting("\(waiting.systemdActiveState) on \(label.label(waiting.machineID))")
            }
            if all.isEmpty { return .waiting("not loaded on any machine") }
            return .done(all.map { "Unit \(name) launched on \(label.label($0.machineID))" }.joined(separator: "\n"))
        }
    }

    /// The unit is gone from the registry (`destroy`).
    func gone(_ name: String) -> StateWaiter.Goal {
        StateWaiter.Goal(unit: name, state: "destroyed") { reads async throws(CLIError) -> StateWaiter.Status in
            let unit = try await reads.unitIfPresent(name)
            return unit == nil ? .done("Destroyed \(name)") : .waiting("still in the registry")
        }
    }
}

/// A counter a polling closure keeps across polls (consecutive `failed` reports).
final class PollCounter: Sendable {
    let count = Mutex(0)
}
