@testable import Fleet

/// A unit with the given `[X-Fleet]` lines.
func unit(_ name: String, _ xfleet: String = "", _ state: FleetState = .launched) -> SchedulerUnit {
    let text = "[Service]\nExecStart=/bin/true\n" + (xfleet.isEmpty ? "" : "\n[X-Fleet]\n\(xfleet)\n")
    do {
        return SchedulerUnit(try RegistryUnit(name: name, text: text, desiredState: state))
    } catch {
        fatalError("bad test unit \(name): \(error)")
    }
}

/// A machine with a readable ID.
func machine(_ id: String, _ metadata: [String: String] = [:], presence: MachinePresence = .present,
             hostname: String? = nil, capacity: Int? = nil) -> SchedulerMachine {
    SchedulerMachine(id: id, metadata: metadata, hostname: hostname, capacity: capacity, presence: presence)
}

/// Applies decisions to a schedule, as the engine would.
func apply(_ decisions: [Decision], to schedule: [String: String]) -> [String: String] {
    var s = schedule
    for d in decisions {
        switch d.action {
        case .schedule(let m): s[d.unit] = m
        case .unschedule(let m): if s[d.unit] == m { s[d.unit] = nil }
        case .unschedulable, .hold: break
        }
    }
    return s
}

/// Plans once and returns the resulting schedule.
func settle(_ machines: [SchedulerMachine], _ units: [SchedulerUnit], _ schedule: [String: String] = [:])
    -> [String: String]
{
    apply(Scheduler.plan(machines: machines, units: units, schedule: schedule), to: schedule)
}

extension Array where Element == Decision {
    var scheduled: [String: String] {
        var out: [String: String] = [:]
        for d in self { if case .schedule(let m) = d.action { out[d.unit] = m } }
        return out
    }
    var unscheduled: [String: Decision.Reason] {
        var out: [String: Decision.Reason] = [:]
        for d in self { if case .unschedule = d.action { out[d.unit] = d.reason } }
        return out
    }
    var unschedulable: [String: Decision.Reason] {
        var out: [String: Decision.Reason] = [:]
        for d in self where d.action == .unschedulable { out[d.unit] = d.reason }
        return out
    }
}
