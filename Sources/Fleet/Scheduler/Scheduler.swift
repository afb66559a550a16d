/// fleet's engine scheduling, as a pure function from a snapshot to decisions.
///
/// The engine reads machines, units and the current schedule (`job/*/target`), calls ``plan(machines:units:schedule:)``
/// and executes the returned ``Decision``s in order. No I/O happens here, so every placement rule is
/// testable and the engine can run a pass in milliseconds even at 10,000 units (fleet needed 3–5 s at
/// 1,300).
///
/// Rules (fleet v1.0.0's, with its failure modes fixed):
/// * **Stability.** A unit stays where it is while its machine is passed in — present or merely
///   ``MachinePresence/suspect`` — and its constraints still hold. Nothing is rebalanced and nothing moves
///   because the store or a machine is slow; only an expired machine (absent from `machines`) loses its
///   units. Schedule entries for units not in `units` are left alone, so a partial read can never
///   unschedule what it did not see.
/// * **Least loaded.** A unit to place goes to the present machine with the fewest units (scheduled
///   plus global), ties broken by machine ID, that satisfies `MachineID`, `MachineMetadata`, `MachineOf`,
///   `Conflicts` (globs, both directions, including global units) and its own capacity.
/// * **Replaces.** Never shares a machine with the units it replaces; if the chosen machine holds one,
///   that unit is unscheduled and placed elsewhere in the same pass (a unit is displaced at most once
///   per pass; mutual Replaces are ignored, as in fleet).
/// * **MachineOf** peers are placed before their dependants; a dependant follows its peer when the peer
///   moves. A global peer is satisfied on every machine running it.
/// * **Global** units are never scheduled; they run on every machine matching their metadata whose
///   scheduled units neither conflict with them nor replace them (see ``unitsToRun(on:units:schedule:)``), and count toward
///   that machine's load.
/// * Units with desired state `inactive`, templates and global units found in the schedule are
///   unscheduled.
/// * **Mass loss.** When many machines holding units vanish in one snapshot (more than
///   ``PlanPolicy/massLossFraction`` of them, at least two) their units are held in place with a
///   ``Decision/Action/hold(machineID:)`` instead of being rescheduled: that pattern is far more often a
///   store that lost or expired its presence keys (fleet #373, #1289) than half a cluster dying at once.
///   The engine can pass ``PlanPolicy/fleet`` once the loss has lasted long enough to be believed.
public enum Scheduler {
    /// Safety limits of a pass.
    public struct PlanPolicy: Hashable, Sendable {
        /// Hold (do not reschedule) the units of vanished machines when more than this fraction of the
        /// machines named in the schedule vanished, and at least two did; nil: never hold.
        public var massLossFraction: Double?

        public init(massLossFraction: Double? = 0.5) { self.massLossFraction = massLossFraction }

        /// Hold when more than half of the machines vanish at once.
        public static let `default` = PlanPolicy()
        /// fleet's behaviour: every vanished machine's units are rescheduled at once.
        public static let fleet = PlanPolicy(massLossFraction: nil)
    }

    /// Decides what to schedule, unschedule and report as unschedulable. Deterministic: the same
    /// input always gives the same decisions in the same order.
    ///
    /// - Parameters:
    ///   - machines: machines whose presence has not expired (order irrelevant).
    ///   - units: every unit in the registry (for duplicate names, the last wins).
    ///   - schedule: unit name → machine ID, from `job/<unit>/target`.
    ///   - policy: safety limits; ``PlanPolicy/default`` holds units when many machines vanish at once.
    public static func plan(
        machines: [SchedulerMachine], units: [SchedulerUnit], schedule: [String: String],
        policy: PlanPolicy = .default
    ) -> [Decision] {
        var planner = Planner(machines: machines, units: units)
        planner.run(schedule: schedule, policy: policy)
        return planner.decisions
    }

    /// The units an agent should run on `machine`: the non-global units scheduled there (desired state
    /// loaded or launched), then the global units whose metadata matches and that conflict with nothing
    /// chosen before them (in name order) and are not replaced by a unit scheduled there. Sorted within each group.
    public static func unitsToRun(
        on machine: SchedulerMachine, units: [SchedulerUnit], schedule: [String: String]
    ) -> [String] {
        var chosen: [(name: String, options: XFleetOptions)] = []
        let sorted = units.sorted { $0.name < $1.name }
        for unit in sorted where !unit.options.isGlobal && unit.desiredState != .inactive && !unit.name.isTemplate {
            if schedule[unit.name.rawValue] == machine.id {
                let opts = (try? unit.options.resolved(machineID: machine.id, hostname: machine.hostname)) ?? unit.options
                chosen.append((unit.name.rawValue, opts))
            }
        }
        for unit in sorted where unit.options.isGlobal && unit.desiredState != .inactive && !unit.name.isTemplate {
            guard let opts = try? unit.options.resolved(machineID: machine.id, hostname: machine.hostname),
                opts.acceptsMetadata(machine.metadata)
            else { continue }
            let name = unit.name.rawValue
            let clash = chosen.contains { other in
                opts.conflicts(with: other.name) || other.options.conflicts(with: name)
                    || other.options.replaces(name)
            }
            if !clash { chosen.append((name, opts)) }
        }
        return chosen.map(\.name)
    }
}
