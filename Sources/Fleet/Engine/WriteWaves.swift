/// Splits the engine's schedule writes into waves of per-unit chains that may go out concurrently.
///
/// The scheduler's decisions are ordered, and two orderings matter: the decisions of one unit (a unit
/// displaced by `Replaces` is scheduled, unscheduled and scheduled elsewhere in one pass), and an
/// unschedule from a machine before a later schedule onto that machine by another unit (the replaced
/// or conflicting unit leaves before the new one arrives). Everything else is independent.
///
/// A unit's decisions form a *chain*, written one after another; the chains of a wave are written
/// concurrently. A wave ends only where a schedule would land on a machine that another unit's
/// unschedule of the wave empties. So 1,000 new units are one wave, and so are the units of a dead
/// machine: each moved unit's unschedule-then-schedule is one chain, and all of them go out together
/// (they used to be two waves, the second waiting for the slowest write of the first).
enum WriteWaves {
    /// One unit's decisions of a wave, in plan order, each with its position in the input.
    struct Chain: Sendable {
        var unit: String
        var steps: [(index: Int, decision: Decision)]
    }

    /// `writes` (schedule and unschedule decisions) cut into consecutive waves of chains. Within a
    /// wave a unit has one chain, and no schedule targets a machine that a different unit's
    /// unschedule earlier in the wave empties.
    static func chains(_ writes: [Decision]) -> [[Chain]] {
        var waves: [[Chain]] = []
        var current: [Chain] = []
        var chainOf: [String: Int] = [:]
        /// Machine → units unscheduled from it in the current wave.
        var emptied: [String: Set<String>] = [:]
        for (index, decision) in writes.enumerated() {
            if case .schedule(let machine) = decision.action,
                emptied[machine].map({ !$0.subtracting([decision.unit]).isEmpty }) ?? false
            {
                waves.append(current)
                current = []
                chainOf = [:]
                emptied = [:]
            }
            if let at = chainOf[decision.unit] {
                current[at].steps.append((index, decision))
            } else {
                chainOf[decision.unit] = current.count
                current.append(Chain(unit: decision.unit, steps: [(index, decision)]))
            }
            if case .unschedule(let machine) = decision.action { emptied[machine, default: []].insert(decision.unit) }
        }
        if !current.isEmpty { waves.append(current) }
        return waves
    }

    /// The waves as flat lists of decisions (each wave's chains one after another).
    static func split(_ writes: [Decision]) -> [[Decision]] {
        chains(writes).map { wave in wave.flatMap { $0.steps.map(\.decision) } }
    }
}
