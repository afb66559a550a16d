import Testing
@testable import Fleet

/// Deterministic pseudo-random numbers for reproducible generated clusters.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct SchedulerPropertyTests {
    static func cluster(seed: UInt64) -> ([SchedulerMachine], [SchedulerUnit]) {
        var rng = SplitMix64(state: seed)
        let machineCount = Int.random(in: 1...12, using: &rng)
        let ms = (0..<machineCount).map { i in
            machine(String(format: "m%02d", i), ["az": "z\(Int.random(in: 0..<3, using: &rng))",
                                                 "disk": Bool.random(using: &rng) ? "ssd" : "hdd"])
        }
        var us: [SchedulerUnit] = []
        let unitCount = Int.random(in: 1...60, using: &rng)
        for i in 0..<unitCount {
            let state: FleetState = Int.random(in: 0..<10, using: &rng) == 0 ? .inactive : .launched
            switch Int.random(in: 0..<9, using: &rng) {
            case 0: us.append(unit("web@\(i).service", "Conflicts=web@*.service", state))
            case 1: us.append(unit("db\(i).service", "MachineMetadata=disk=ssd\nMachineMetadata=az=z0 az=z1", state))
            case 2 where i > 0: us.append(unit("side\(i).service", "MachineOf=\(us[Int.random(in: 0..<us.count, using: &rng)].name)", state))
            case 3: us.append(unit("pin\(i).service", "MachineID=\(ms[Int.random(in: 0..<ms.count, using: &rng)].id)", state))
            case 4: us.append(unit("glob\(i).service", "Global=true\nMachineMetadata=az=z\(i % 3)", state))
            case 5 where i > 0: us.append(unit("rep\(i).service", "Replaces=\(us[Int.random(in: 0..<us.count, using: &rng)].name)", state))
            case 6: us.append(unit("anti\(i).service", "Conflicts=db*", state))
            default: us.append(unit("app\(i).service", "", state))
            }
        }
        // MachineOf on a unit that cannot be a peer is refused at submit; drop those here too.
        return (ms, us)
    }

    /// Every placement satisfies every constraint.
    static func verify(_ ms: [SchedulerMachine], _ us: [SchedulerUnit], _ s: [String: String]) {
        let byName = Dictionary(uniqueKeysWithValues: us.map { ($0.name.rawValue, $0) })
        let byID = Dictionary(uniqueKeysWithValues: ms.map { ($0.id, $0) })
        let localUnits = Dictionary(uniqueKeysWithValues: ms.map { ($0.id, Scheduler.unitsToRun(on: $0, units: us, schedule: s)) })
        for (name, m) in s {
            guard let u = byName[name], let mach = byID[m] else {
                Issue.record("\(name) on unknown machine \(m)")
                continue
            }
            let o = u.options
            #expect(u.desiredState != .inactive && !o.isGlobal, "\(name)")
            #expect(o.acceptsMachineID(m), "\(name) MachineID")
            #expect(o.acceptsMetadata(mach.metadata), "\(name) metadata on \(m)")
            let local = localUnits[m]!
            #expect(local.contains(name))
            for peer in o.machineOf {
                #expect(local.contains(peer), "\(name) peer \(peer) not on \(m)")
            }
            for other in local where other != name {
                let oo = byName[other]!.options
                #expect(!o.conflicts(with: other) && !oo.conflicts(with: name), "\(name) conflicts with \(other) on \(m)")
                if o.replaces(other) && !oo.replaces(name) { Issue.record("\(name) shares \(m) with replaced \(other)") }
            }
        }
    }

    @Test(arguments: 1...150 as ClosedRange<UInt64>)
    func settledClustersSatisfyConstraintsAndStayPut(seed: UInt64) {
        let (ms, us) = Self.cluster(seed: seed)
        let s = settle(ms, us)
        Self.verify(ms, us, s)
        // A second pass changes nothing.
        let again = Scheduler.plan(machines: ms, units: us, schedule: s)
        #expect(again.filter { $0.action != .unschedulable }.isEmpty, "seed \(seed): \(again)")

        // Losing a machine only moves what was on it (or what that displaced).
        guard ms.count > 1 else { return }
        let lost = ms[Int(seed) % ms.count]
        let rest = ms.filter { $0.id != lost.id }
        let d = Scheduler.plan(machines: rest, units: us, schedule: s)
        for decision in d {
            guard case .unschedule(let m) = decision.action else { continue }
            switch decision.reason {
            case .machineGone: #expect(m == lost.id)
            case .replacedBy, .peerNotLocal: break
            default: Issue.record("seed \(seed): unexpected \(decision)")
            }
        }
        let after = apply(d, to: s)
        Self.verify(rest, us, after)
    }

    @Test func leastLoadedKeepsUnconstrainedUnitsBalanced() {
        let ms = (0..<10).map { machine("m\($0)") }
        let us = (0..<1000).map { unit("u\($0).service") }
        let s = settle(ms, us)
        var counts: [String: Int] = [:]
        for m in s.values { counts[m, default: 0] += 1 }
        #expect(counts.count == 10 && counts.values.allSatisfy { $0 == 100 })
    }

    @Test func moderateClusterPlansQuicklyInDebug() {
        // Guards against accidental quadratic behaviour; the release benchmark is fleet-bench scheduler.
        let ms = (0..<200).map { machine(String(format: "m%04d", $0), ["az": "z\($0 % 4)"]) }
        let us = (0..<2000).map { i in
            unit("u\(i).service", i % 4 == 0 ? "MachineMetadata=az=z1" : i % 4 == 1 ? "Conflicts=u\(i + 1).service" : "")
        }
        let start = ContinuousClock.now
        let d = Scheduler.plan(machines: ms, units: us, schedule: [:])
        #expect(d.scheduled.count == 2000)
        #expect(ContinuousClock.now - start < .seconds(10))
    }
}
