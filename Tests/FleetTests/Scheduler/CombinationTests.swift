import Testing
@testable import Fleet

@Suite struct CombinationTests {
    @Test func metadataAndConflictsTogether() {
        let ms = [machine("m1", ["az": "a"]), machine("m2", ["az": "a"]), machine("m3", ["az": "b"])]
        let us = (1...3).map { unit("web@\($0).service", "MachineMetadata=az=a\nConflicts=web@*.service") }
        let d = Scheduler.plan(machines: ms, units: us, schedule: [:])
        #expect(d.scheduled == ["web@1.service": "m1", "web@2.service": "m2"])
        guard case .noEligibleMachine(let why)? = d.unschedulable["web@3.service"] else {
            Issue.record("web@3 has nowhere to go")
            return
        }
        #expect(why.contains("1 metadata mismatch") && why.contains("2 conflict"))
    }

    @Test func machineOfPeerOnMachineWithWrongMetadata() {
        let ms = [machine("m1", ["disk": "hdd"]), machine("m2", ["disk": "ssd"])]
        let us = [unit("app.service", "MachineID=m1"), unit("cache.service", "MachineOf=app.service\nMachineMetadata=disk=ssd")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: [:])
        #expect(d.scheduled == ["app.service": "m1"])
        #expect(d.unschedulable["cache.service"] != nil)
    }

    @Test func machineOfAndConflictsWithThirdUnit() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("a.service"), unit("b.service", "MachineOf=a.service\nConflicts=x.service"), unit("x.service")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: ["a.service": "m1", "x.service": "m1"])
        #expect(d.unschedulable["b.service"] != nil)
        let s = settle(ms, us, ["a.service": "m1", "x.service": "m2"])
        #expect(s["b.service"] == "m1")
    }

    @Test func pinnedUnitIgnoresLoad() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("a.service"), unit("b.service"), unit("p.service", "MachineID=m1")]
        let s = settle(ms, us, ["a.service": "m1", "b.service": "m1"])
        #expect(s["p.service"] == "m1")
    }

    @Test func replacesRespectsTheReplacersOwnMetadata() {
        let ms = [machine("m1", ["az": "a"]), machine("m2", ["az": "b"])]
        let us = [unit("old.service"), unit("new.service", "Replaces=old.service\nMachineMetadata=az=b")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: ["old.service": "m1"])
        // new goes to m2 (its metadata); old stays on m1 because they are not on the same machine.
        #expect(d.scheduled == ["new.service": "m2"])
        #expect(d.unscheduled.isEmpty)
    }

    @Test func globalUnitWithConflictsSkipsMachines() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("db.service"), unit("g.service", "Global=true\nConflicts=db.service")]
        let s = ["db.service": "m1"]
        #expect(Scheduler.unitsToRun(on: ms[0], units: us, schedule: s) == ["db.service"])
        #expect(Scheduler.unitsToRun(on: ms[1], units: us, schedule: s) == ["g.service"])
        // The load accounting agrees: m1 has db, m2 has g; a new unit goes to m1 (ID tie-break).
        #expect(settle(ms, us + [unit("n.service")], s)["n.service"] == "m1")
    }

    @Test func templateInstancesWithSpecifiers() {
        let ms = (1...3).map { machine("m\($0)") }
        let us = (1...3).map { unit("web@\($0).service", "Conflicts=%p@*.service") }
            + (1...3).map { unit("web-log@\($0).service", "MachineOf=web@%i.service") }
        let s = settle(ms, us)
        #expect(Set((1...3).map { s["web@\($0).service"]! }).count == 3)
        for i in 1...3 { #expect(s["web-log@\(i).service"] == s["web@\(i).service"]) }
    }
}
