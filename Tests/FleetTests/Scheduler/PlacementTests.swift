import Testing
@testable import Fleet

@Suite struct LeastLoadedTests {
    @Test func balancesAndBreaksTiesByMachineID() {
        let ms = [machine("m3"), machine("m1"), machine("m2")]
        let us = (1...9).map { unit("u\($0).service") }
        let d = Scheduler.plan(machines: ms, units: us, schedule: [:])
        let s = d.scheduled
        #expect(s.count == 9)
        #expect(s["u1.service"] == "m1" && s["u2.service"] == "m2" && s["u3.service"] == "m3")
        #expect(s["u4.service"] == "m1")
        for m in ["m1", "m2", "m3"] { #expect(s.values.filter { $0 == m }.count == 3) }
        #expect(d.first?.reason == .leastLoaded(units: 0))
    }

    @Test func prefersTheLeastLoadedGivenExistingUnits() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("a.service"), unit("b.service"), unit("c.service")]
        let s = settle(ms, us, ["a.service": "m1", "b.service": "m1"])
        #expect(s["c.service"] == "m2")
    }

    @Test func globalUnitsCountTowardLoad() {
        let ms = [machine("m1", ["role": "edge"]), machine("m2")]
        let us = [unit("mon.service", "Global=true\nMachineMetadata=role=edge"), unit("a.service")]
        #expect(settle(ms, us)["a.service"] == "m2")
    }

    @Test func inactiveUnitsAreNotPlacedAndLoadedOnesAre() {
        let us = [unit("a.service", "", .inactive), unit("b.service", "", .loaded)]
        let s = settle([machine("m1")], us)
        #expect(s == ["b.service": "m1"])
    }

    @Test func capacityLimitsNewPlacementsOnly() {
        let ms = [machine("m1", capacity: 1), machine("m2", capacity: 1)]
        let us = [unit("a.service"), unit("b.service"), unit("c.service")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: [:])
        #expect(d.scheduled.count == 2)
        #expect(d.unschedulable["c.service"] != nil)
        // Already over capacity: nothing is moved.
        let keep = Scheduler.plan(machines: [machine("m1", capacity: 1)], units: [unit("a.service"), unit("b.service")],
                                  schedule: ["a.service": "m1", "b.service": "m1"])
        #expect(keep.isEmpty)
    }

    @Test func deterministicRegardlessOfInputOrder() {
        let ms = (1...7).map { machine("m\($0)", ["az": "z\($0 % 2)"]) }
        let us = (1...40).map { i in
            unit("u\(i).service", i % 3 == 0 ? "MachineMetadata=az=z1" : i % 5 == 0 ? "Conflicts=u*.service" : "")
        }
        let a = Scheduler.plan(machines: ms, units: us, schedule: [:])
        let b = Scheduler.plan(machines: ms.reversed(), units: us.shuffled(), schedule: [:])
        #expect(a == b)
    }

    @Test func noMachines() {
        let d = Scheduler.plan(machines: [], units: [unit("a.service")], schedule: [:])
        #expect(d.unschedulable["a.service"] == .noMachines)
    }
}

@Suite struct ConstraintTests {
    let id1 = "1111111111111111111111111111aaaa"
    let id2 = "2222222222222222222222222222bbbb"

    @Test func machineIDFullAndShort() {
        let ms = [machine(id1), machine(id2)]
        let d = Scheduler.plan(machines: ms, units: [
            unit("a.service", "MachineID=\(id2)"), unit("b.service", "MachineID=22222222"),
            unit("c.service", "MachineID=33333333"),
        ], schedule: [:])
        #expect(d.scheduled == ["a.service": id2, "b.service": id2])
        #expect(d.unschedulable["c.service"] == .machineNotPresent("33333333"))
        #expect(d.first { $0.unit == "a.service" }?.reason == .pinned(id2))
    }

    @Test func machineIDOnSuspectMachineWaits() {
        let d = Scheduler.plan(machines: [machine(id1, presence: .suspect)], units: [unit("a.service", "MachineID=\(id1)")], schedule: [:])
        #expect(d.scheduled.isEmpty)
        #expect(d.unschedulable["a.service"] != nil)
    }

    @Test func metadataOrWithinKeyAndAcrossKeys() {
        let ms = [
            machine("m1", ["az": "a", "disk": "hdd"]), machine("m2", ["az": "b", "disk": "ssd"]),
            machine("m3", ["az": "c", "disk": "ssd"]), machine("m4", ["disk": "ssd"]),
        ]
        let d = Scheduler.plan(machines: ms, units: [
            unit("x.service", "MachineMetadata=az=a az=c\nMachineMetadata=disk=ssd"),
            unit("y.service", "MachineMetadata=\"az=b\""),
            unit("z.service", "MachineMetadata=az=nowhere"),
        ], schedule: [:])
        #expect(d.scheduled["x.service"] == "m3")
        #expect(d.scheduled["y.service"] == "m2")
        guard case .noEligibleMachine(let why)? = d.unschedulable["z.service"] else {
            Issue.record("z should be unschedulable")
            return
        }
        #expect(why.contains("4 metadata mismatch"))
    }

    @Test func metadataChangeUnschedulesAndReplaces() {
        let ms = [machine("m1", ["az": "b"]), machine("m2", ["az": "a"])]
        let d = Scheduler.plan(machines: ms, units: [unit("x.service", "MachineMetadata=az=a")], schedule: ["x.service": "m1"])
        #expect(d.unscheduled["x.service"] == .metadataMismatch)
        #expect(d.scheduled["x.service"] == "m2")
    }

    @Test func conflictsGlobForward() {
        let ms = [machine("m1"), machine("m2"), machine("m3")]
        let us = (1...3).map { unit("web@\($0).service", "Conflicts=web@*.service") }
        let s = settle(ms, us)
        #expect(Set(s.values).count == 3)
        let d = Scheduler.plan(machines: ms, units: us + [unit("web@4.service", "Conflicts=web@*.service")], schedule: s)
        guard case .noEligibleMachine(let why)? = d.unschedulable["web@4.service"] else {
            Issue.record("web@4 should be unschedulable")
            return
        }
        #expect(why == "3 machines checked: 3 conflict (e.g. web@1.service)")
    }

    @Test func conflictsCheckedInBothDirections() {
        let ms = [machine("m1"), machine("m2")]
        // Only db declares the conflict; cache (placed later) must still avoid db's machine.
        let s1 = settle(ms, [unit("a-db.service", "Conflicts=cache*"), unit("cache.service")], [:])
        #expect(s1["a-db.service"] != s1["cache.service"])
        // Only the newcomer declares it.
        let s2 = settle(ms, [unit("a-cache.service"), unit("db.service", "Conflicts=a-cache*")], ["a-cache.service": "m1"])
        #expect(s2["db.service"] == "m2")
        // And the existing unit declares it against the newcomer, even though m1 is less loaded.
        let s3 = settle(ms, [unit("a.service", "Conflicts=new.service"), unit("b.service"), unit("c.service"), unit("new.service")],
                        ["a.service": "m1", "b.service": "m2", "c.service": "m2"])
        #expect(s3["new.service"] == "m2")
    }

    @Test func conflictsWithGlobalUnits() {
        let ms = [machine("m1", ["edge": "1"]), machine("m2")]
        let s = settle(ms, [unit("proxy.service", "Global=true\nMachineMetadata=edge=1"), unit("a.service", "Conflicts=proxy.service")])
        #expect(s["a.service"] == "m2")
        #expect(s["proxy.service"] == nil)
    }

    @Test func existingConflictKeepsTheFirstByName() {
        let d = Scheduler.plan(machines: [machine("m1"), machine("m2")],
                               units: [unit("a.service", "Conflicts=b.service"), unit("b.service")],
                               schedule: ["a.service": "m1", "b.service": "m1"])
        #expect(d.unscheduled == ["b.service": .conflict(with: "a.service")])
        #expect(d.scheduled == ["b.service": "m2"])
    }

    @Test func machineOfChainFollowsTheRoot() {
        let ms = [machine("m1"), machine("m2"), machine("m3")]
        let us = [
            unit("app.service"), unit("side.service", "MachineOf=app.service"),
            unit("log.service", "MachineOf=side.service"), unit("z.service"), unit("y.service"),
        ]
        let s = settle(ms, us)
        #expect(s["side.service"] == s["app.service"] && s["log.service"] == s["app.service"])
        // The root's machine dies: the whole chain moves together.
        let root = s["app.service"]!
        let rest = ms.filter { $0.id != root }
        let d = Scheduler.plan(machines: rest, units: us, schedule: s)
        let after = apply(d, to: s)
        #expect(after["app.service"] != root)
        #expect(after["side.service"] == after["app.service"] && after["log.service"] == after["app.service"])
        #expect(d.unscheduled["log.service"] == .machineGone)
        #expect(d.first { $0.unit == "side.service" && $0.action != .unschedule(machineID: root) }?.reason == .followsPeers(["app.service"]))
    }

    @Test func machineOfSeveralPeersAreAnded() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("a.service"), unit("b.service"), unit("c.service", "MachineOf=a.service b.service")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: ["a.service": "m1", "b.service": "m2"])
        guard case .noEligibleMachine? = d.unschedulable["c.service"] else {
            Issue.record("c needs both peers on one machine")
            return
        }
        #expect(settle(ms, us, ["a.service": "m1", "b.service": "m1"])["c.service"] == "m1")
    }

    @Test func machineOfMissingPeerAndCycles() {
        let d = Scheduler.plan(machines: [machine("m1")], units: [
            unit("a.service", "MachineOf=ghost.service"), unit("off.service", "", .inactive),
            unit("b.service", "MachineOf=off.service"),
            unit("x.service", "MachineOf=y.service"), unit("y.service", "MachineOf=x.service"),
        ], schedule: [:])
        #expect(d.unschedulable["a.service"] == .peerNotScheduled("ghost.service"))
        #expect(d.unschedulable["b.service"] == .peerNotScheduled("off.service"))
        #expect(d.unschedulable["x.service"] == .machineOfCycle)
        #expect(d.unschedulable["y.service"] == .machineOfCycle)
    }

    @Test func machineOfPeerMovedAwayUnschedulesDependant() {
        let ms = [machine("m1"), machine("m2")]
        let us = [unit("a.service"), unit("b.service", "MachineOf=a.service")]
        let d = Scheduler.plan(machines: ms, units: us, schedule: ["a.service": "m2", "b.service": "m1"])
        #expect(d.unscheduled["b.service"] == .peerNotLocal("a.service"))
        #expect(d.scheduled["b.service"] == "m2")
    }

    @Test func machineOfGlobalPeer() {
        let ms = [machine("m1"), machine("m2", ["net": "1"])]
        let us = [unit("agent.service", "Global=true\nMachineMetadata=net=1"), unit("x.service", "MachineOf=agent.service")]
        #expect(settle(ms, us)["x.service"] == "m2")
    }

    @Test func machineSpecifiersEvaluatedPerMachine() {
        let ms = [machine("m1", ["host": "alpha"], hostname: "alpha"), machine("m2", ["host": "beta"], hostname: "gamma")]
        // Only m1's metadata names its own hostname.
        let s = settle(ms, [unit("a.service", "MachineMetadata=host=%H"), unit("b.service", "MachineMetadata=host=%H")])
        #expect(s == ["a.service": "m1", "b.service": "m1"])
        let s2 = settle(ms, [unit("c.service", "MachineID=%m"), unit("d.service", "Conflicts=c*")], ["c.service": "m2"])
        #expect(s2["c.service"] == "m2" && s2["d.service"] == "m1")
    }
}
