import Testing
@testable import Fleet

@Suite struct GlobalUnitTests {
    @Test func neverScheduledAndStaleEntriesRemoved() {
        let us = [unit("mon.service", "Global=true")]
        let d = Scheduler.plan(machines: [machine("m1")], units: us, schedule: ["mon.service": "m1"])
        #expect(d == [Decision(unit: "mon.service", action: .unschedule(machineID: "m1"), reason: .globalUnit)])
        #expect(Scheduler.plan(machines: [machine("m1")], units: us, schedule: [:]).isEmpty)
    }

    @Test func agentViewWithMetadataAndConflicts() {
        let us = [
            unit("a.service"), unit("b.service", "Conflicts=mon-b.service"),
            unit("mon-a.service", "Global=true"),
            unit("mon-b.service", "Global=true\nMachineMetadata=role=web"),
            unit("mon-c.service", "Global=true\nMachineMetadata=role=db"),
            unit("mon-d.service", "Global=true\nConflicts=mon-a.service"),
            unit("mon-off.service", "Global=true", .inactive),
            unit("tpl@.service", "Global=true", .inactive),
        ]
        let web = machine("m1", ["role": "web"])
        let schedule = ["a.service": "m1", "b.service": "m2"]
        #expect(Scheduler.unitsToRun(on: web, units: us, schedule: schedule) == ["a.service", "mon-a.service", "mon-b.service"])
        // b.service (scheduled) wins over the global unit it conflicts with.
        let web2 = machine("m2", ["role": "web"])
        #expect(Scheduler.unitsToRun(on: web2, units: us, schedule: schedule) == ["b.service", "mon-a.service"])
        let db = machine("m3", ["role": "db"])
        #expect(Scheduler.unitsToRun(on: db, units: us, schedule: schedule) == ["mon-a.service", "mon-c.service"])
    }

    @Test func globalWithHostnameSpecifier() {
        let us = [unit("g.service", "Global=true\nMachineMetadata=name=%H")]
        #expect(Scheduler.unitsToRun(on: machine("m1", ["name": "n1"], hostname: "n1"), units: us, schedule: [:]) == ["g.service"])
        #expect(Scheduler.unitsToRun(on: machine("m2", ["name": "n1"], hostname: "n2"), units: us, schedule: [:]).isEmpty)
    }
}

@Suite struct ReplacesTests {
    @Test func takesTheMachineAndMovesTheReplacedUnit() {
        // m1 is least loaded and holds old.service: new.service takes it, old moves to m2.
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("old.service"), unit("x.service"), unit("y.service"), unit("new.service", "Replaces=old.service")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: ["old.service": "m1", "x.service": "m2", "y.service": "m2"])
        #expect(d.unscheduled == ["old.service": .replacedBy("new.service")])
        #expect(d.scheduled == ["new.service": "m1", "old.service": "m2"])
        // Order: the replaced unit leaves before the replacement arrives.
        #expect(d.firstIndex { $0.unit == "old.service" }! < d.firstIndex { $0.unit == "new.service" }!)
    }

    @Test func replacedUnitNeverJoinsItsReplacer() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("new.service", "Replaces=old*"), unit("old-1.service"), unit("a.service"), unit("b.service")]
        let s = settle(ms, us, ["new.service": "m1", "a.service": "m2", "b.service": "m2"])
        #expect(s["old-1.service"] == "m2")
    }

    @Test func colocatedReplacedUnitIsMoved() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("new.service", "Replaces=old.service"), unit("old.service")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: ["new.service": "m1", "old.service": "m1"])
        #expect(d.unscheduled == ["old.service": .replacedBy("new.service")])
        #expect(d.scheduled == ["old.service": "m2"])
    }

    @Test func replacedUnitCarriesItsMachineOfDependants() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("new.service", "Replaces=old.service"), unit("old.service"), unit("side.service", "MachineOf=old.service"),
                  unit("z1.service"), unit("z2.service"), unit("z3.service")]
        let start = ["old.service": "m1", "side.service": "m1", "z1.service": "m2", "z2.service": "m2", "z3.service": "m2"]
        let s = settle(ms, us, start)
        #expect(s["new.service"] == "m1")
        #expect(s["old.service"] == "m2" && s["side.service"] == "m2")
    }

    @Test func mutualReplacesAreIgnored() {
        let us = [unit("a.service", "Replaces=b.service"), unit("b.service", "Replaces=a.service")]
        let d = Scheduler.plan(machines: [machine("m1")], units: us, schedule: ["a.service": "m1", "b.service": "m1"])
        #expect(d.isEmpty)
    }

    @Test func replacedUnitWithNowhereToGoIsReported() {
        let us = [unit("new.service", "Replaces=old.service"), unit("old.service")]
        let d = Scheduler.plan(machines: [machine("m1")], units: us, schedule: ["new.service": "m1", "old.service": "m1"])
        #expect(d.unscheduled["old.service"] == .replacedBy("new.service"))
        #expect(d.unschedulable["old.service"] != nil)
    }
}

@Suite struct ReschedulingTests {
    @Test func unitsOfAGoneMachineAreRescheduled() {
        let ms = [machine("m1"), machine("m2"), machine("m3")]
        let us = (1...6).map { unit("u\($0).service") }
        let s = settle(ms, us)
        let survivors = [machine("m1"), machine("m3")]
        let d = Scheduler.plan(machines: survivors, units: us, schedule: s)
        let moved = s.filter { $0.value == "m2" }.map(\.key)
        #expect(Set(d.unscheduled.keys) == Set(moved))
        #expect(d.unscheduled.values.allSatisfy { $0 == .machineGone })
        let after = apply(d, to: s)
        #expect(after.count == 6 && !after.values.contains("m2"))
        // Units elsewhere did not move.
        for (u, m) in s where m != "m2" { #expect(after[u] == m) }
    }

    @Test func suspectMachinesKeepUnitsButTakeNoNewOnes() {
        let ms = [machine("m1", presence: .suspect), machine("m2")]
        let us = [unit("a.service"), unit("b.service"), unit("c.service")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: ["a.service": "m1", "b.service": "m2"])
        #expect(d.unscheduled.isEmpty)
        #expect(d.scheduled == ["c.service": "m2"])
    }

    @Test func noMovesWhileMachinesArePresent() {
        let ms = (1...4).map { machine("m\($0)") }
        let us = (1...20).map { unit("u\($0).service") }
        // A lopsided schedule stays lopsided: fleet never rebalances, and neither do we.
        var s: [String: String] = [:]
        for i in 1...20 { s["u\(i).service"] = "m1" }
        #expect(Scheduler.plan(machines: ms, units: us, schedule: s).isEmpty)
        // A new machine joining moves nothing.
        #expect(Scheduler.plan(machines: ms + [machine("m5")], units: us, schedule: s).isEmpty)
    }

    @Test func settledClusterPlansNothing() {
        let ms = (1...5).map { machine("m\($0)", ["az": "z\($0 % 2)"]) }
        let us = (1...29).map { i -> SchedulerUnit in
            switch i % 5 {
            case 0: return unit("w@\(i).service", "Conflicts=w@*.service")
            case 1: return unit("s\(i).service", "MachineOf=p\(i + 3).service")
            case 2: return unit("m\(i).service", "MachineMetadata=az=z1")
            case 3: return unit("r\(i).service", "Replaces=p\(i + 1).service")
            default: return unit("p\(i).service")
            }
        }
        let first = Scheduler.plan(machines: ms, units: us, schedule: [:])
        #expect(first.unschedulable.isEmpty)
        let s = apply(first, to: [:])
        #expect(s.count == 29)
        #expect(Scheduler.plan(machines: ms, units: us, schedule: s).isEmpty)
    }

    @Test func unknownUnitsInTheScheduleAreLeftAlone() {
        // A partial read (unit missing from `units`) must never unschedule it.
        let d = Scheduler.plan(machines: [machine("m1")], units: [], schedule: ["ghost.service": "m1", "other.service": "gone"])
        #expect(d.isEmpty)
    }

    @Test func desiredInactiveAndTemplatesAreUnscheduled() {
        let us = [unit("a.service", "", .inactive), unit("t@.service", "", .inactive)]
        let d = Scheduler.plan(machines: [machine("m1")], units: us, schedule: ["a.service": "m1", "t@.service": "m1"])
        #expect(d.unscheduled == ["a.service": .desiredInactive, "t@.service": .template])
    }

    @Test func decisionsReadWellInLogs() {
        let d = Decision(unit: "a.service", action: .unschedule(machineID: "m1"), reason: .machineGone)
        #expect(d.description == "unschedule a.service from m1: target machine went away")
        let s = Decision(unit: "a.service", action: .schedule(machineID: "m2"), reason: .leastLoaded(units: 3))
        #expect(s.description == "schedule a.service on m2: least-loaded eligible machine (3 units)")
    }
}

@Suite struct MassLossTests {
    let units = (1...12).map { unit("u\($0).service") }

    func spread(_ ms: [SchedulerMachine]) -> [String: String] { settle(ms, units) }

    @Test func manyMachinesVanishingAtOnceAreHeld() {
        let ms = (1...4).map { machine("m\($0)") }
        let s = spread(ms)
        // Three of four vanish in one snapshot: hold, do not pile everything onto m1.
        let d = Scheduler.plan(machines: [ms[0]], units: units, schedule: s)
        #expect(d.scheduled.isEmpty && d.unscheduled.isEmpty)
        #expect(d.count == 9)
        #expect(d.allSatisfy { if case .hold = $0.action { return $0.reason == .massMachineLoss(lost: 3, known: 4) } else { return false } })
        #expect(d[0].description.hasPrefix("holding u"))
        // fleet's policy reschedules them.
        let f = Scheduler.plan(machines: [ms[0]], units: units, schedule: s, policy: .fleet)
        #expect(f.scheduled.count == 9 && f.unscheduled.count == 9)
    }

    @Test func aSingleLossIsAlwaysHandled() {
        let ms = (1...2).map { machine("m\($0)") }
        let s = spread(ms)
        let d = Scheduler.plan(machines: [ms[0]], units: units, schedule: s)
        #expect(d.scheduled.count == 6 && d.unscheduled.count == 6)
    }

    @Test func newUnitsStillPlacedWhileHolding() {
        let ms = (1...3).map { machine("m\($0)") }
        let s = spread(ms)
        let d = Scheduler.plan(machines: [ms[2]], units: units + [unit("new.service"), unit("side.service", "MachineOf=u1.service")], schedule: s)
        #expect(d.scheduled == ["new.service": "m3"])
        #expect(d.unschedulable["side.service"] == .peerNotScheduled("u1.service"))
    }
}
