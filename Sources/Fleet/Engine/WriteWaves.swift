/// Splits the engine's schedule writes into waves whose writes may go out concurrently.
///
/// The scheduler's decisions are ordered, and two orderings matter: the decisions of one unit (a unit
/// displaced by `Replaces` is scheduled, unscheduled and scheduled elsewhere in one pass), and an
/// unschedule from a machine before a later schedule onto that machine (the replaced or conflicting
/// unit leaves before the new one arrives). Everything else is independent. A wave ends where the
/// next decision would break one of those two orderings, so 1,000 new units are one wave, and the
/// units of a dead machine (the planner unschedules them all from it first, then schedules them
/// elsewhere) are two waves, not 500 writes one after another.
enum WriteWaves {
    /// `writes` (schedule and unschedule decisions) cut into consecutive waves, in order; within a
    /// wave no unit appears twice and no schedule targets a machine an earlier unschedule of the wave
    /// empties.
    static func split(_ writes: [Decision]) -> [[Decision]] {
        var waves: [[Decision]] = []
        var current: [Decision] = []
        var units = Set<String>()
        var emptied = Set<String>()
        for decision in writes {
            var clashes = units.contains(decision.unit)
            if case .schedule(let machine) = decision.action, emptied.contains(machine) { clashes = true }
            if clashes {
                waves.append(current)
                current = []
                units = []
                emptied = []
            }
            current.append(decision)
            units.insert(decision.unit)
            if case .unschedule(let machine) = decision.action { emptied.insert(machine) }
        }
        if !current.isEmpty { waves.append(current) }
        return waves
    }
}
