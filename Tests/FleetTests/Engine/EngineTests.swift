import Testing
import TestSupport
@testable import Fleet

/// The engine against a real etcd: placement, constraints, machine loss, leadership and fencing,
/// and the rule that store trouble never moves a unit.
@Suite struct EngineTests {
    static let keys = RegistryKeyLayout(prefix: "/test/fleet/")

    static func unitText(_ xfleet: String = "") -> String {
        "[Unit]\nDescription=t\n\n[Service]\nExecStart=/bin/sleep 1000\n" + (xfleet.isEmpty ? "" : "\n[X-Fleet]\n\(xfleet)\n")
    }

    struct Setup {
        let etcd: RealEtcd
        let store: ControllableStore
        let registry: Registry
        /// A registry that bypasses the controllable store (the test's own view).
        let direct: Registry
    }

    static func setup() throws -> Setup {
        let etcd = try RealEtcd()
        let client = try EtcdV2Client(urls: etcd.clientURL, timeout: 5)
        let store = ControllableStore(client)
        return Setup(etcd: etcd, store: store, registry: Registry(store: store, keys: keys),
                     direct: Registry(store: client, keys: keys))
    }

    static func engine(_ registry: Registry, _ id: String, leaseTTL: Int = 10, batchSize: Int = 64,
                       safetyInterval: Duration = .seconds(30), writeConcurrency: Int? = nil) -> Engine {
        var configuration = EngineConfiguration(
            machineID: id, leaseTTL: leaseTTL, safetyInterval: safetyInterval, debounce: .milliseconds(20),
            batchSize: batchSize)
        if let writeConcurrency { configuration.writeConcurrency = writeConcurrency }
        return Engine(registry: registry, configuration: configuration)
    }

    static func addUnit(_ registry: Registry, _ name: String, _ xfleet: String = "", state: FleetState = .launched)
        async throws
    {
        try await registry.createUnit(try RegistryUnit(name: name, text: unitText(xfleet), desiredState: state))
    }

    /// Polls `condition` every 100 ms for at most `seconds`. It returns as soon as the condition
    /// holds, so the default bound only decides how long a broken test takes to fail; 10 s failed a
    /// correct agent test at load 12. Pass a shorter bound only where the bound is the claim.
    static func eventually(_ seconds: Int = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    @Test func schedulesAUnitOntoAMachine() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        try await Self.addUnit(s.direct, "a.service")
        try await Self.addUnit(s.direct, "idle.service", state: .inactive)
        let engine = Self.engine(s.registry, "m1")

        let report = try #require(await engine.reconcileOnce().report)
        #expect(report.executed == [Decision(unit: "a.service", action: .schedule(machineID: "m1"), reason: .leastLoaded(units: 0))])
        #expect(report.stopped == nil)
        #expect(try await s.direct.target(of: "a.service") == "m1")
        #expect(try await s.direct.target(of: "idle.service") == nil)

        // A second pass has nothing to do.
        #expect(try #require(await engine.reconcileOnce().report).executed.isEmpty)

        // Desired inactive: unscheduled.
        try await s.direct.setDesiredState("a.service", to: .inactive)
        let again = try #require(await engine.reconcileOnce().report)
        #expect(again.executed.map(\.action) == [.unschedule(machineID: "m1")])
        #expect(try await s.direct.target(of: "a.service") == nil)
    }

    @Test func honoursAConstraint() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1", metadata: ["az": "zone1"]), ttl: 30)
        try await s.direct.createMachine(MachineState(id: "m2", metadata: ["az": "zone2"]), ttl: 30)
        try await Self.addUnit(s.direct, "z2.service", "MachineMetadata=az=zone2")
        try await Self.addUnit(s.direct, "z3.service", "MachineMetadata=az=zone3")
        let engine = Self.engine(s.registry, "m1")

        let report = try #require(await engine.reconcileOnce().report)
        #expect(try await s.direct.target(of: "z2.service") == "m2")
        #expect(try await s.direct.target(of: "z3.service") == nil)
        #expect(report.decisions.contains { $0.unit == "z3.service" && $0.action == .unschedulable })

        // The metadata override moves zone3's unit onto m1 and nothing else.
        try await s.direct.setMachineMetadata("m1", key: "az", value: "zone3")
        _ = await engine.reconcileOnce()
        #expect(try await s.direct.target(of: "z3.service") == "m1")
        #expect(try await s.direct.target(of: "z2.service") == "m2")
    }

    @Test func reschedulesWhenAPresenceKeyIsDeletedOrExpires() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        try await s.direct.createMachine(MachineState(id: "m2"), ttl: 30)
        try await Self.addUnit(s.direct, "a.service")
        let engine = Self.engine(s.registry, "m2")
        _ = await engine.reconcileOnce()
        #expect(try await s.direct.target(of: "a.service") == "m1")  // tie broken by machine ID

        // Deleted presence (graceful shutdown): moved.
        try await s.direct.removeMachine("m1")
        let moved = try #require(await engine.reconcileOnce().report)
        #expect(moved.executed.map(\.action) == [.unschedule(machineID: "m1"), .schedule(machineID: "m2")])
        #expect(try await s.direct.target(of: "a.service") == "m2")

        // Expired presence: a machine with a 2 s TTL that never refreshes.
        try await s.direct.createMachine(MachineState(id: "m0"), ttl: 2)
        try await Self.addUnit(s.direct, "b.service")
        _ = await engine.reconcileOnce()
        #expect(try await s.direct.target(of: "b.service") == "m0")  // least loaded
        #expect(try await Self.eventually { try await s.direct.machine("m0") == nil })
        _ = await engine.reconcileOnce()
        #expect(try await s.direct.target(of: "b.service") == "m2")
        #expect(try await s.direct.target(of: "a.service") == "m2")
    }

    @Test func onlyTheLeaseHolderWrites() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        let a = Self.engine(s.registry, "engine-a")
        let bStore = ControllableStore(s.direct.store)
        let b = Self.engine(Registry(store: bStore, keys: Self.keys), "engine-b")

        #expect(await a.reconcileOnce().report != nil)
        #expect(await b.reconcileOnce() == .notLeader(holder: "engine-a"))

        try await Self.addUnit(s.direct, "a.service")
        #expect(await b.reconcileOnce() == .notLeader(holder: "engine-a"))
        #expect(bStore.targetWrites == 0)
        #expect(try await s.direct.target(of: "a.service") == nil)

        #expect(try #require(await a.reconcileOnce().report).executed.count == 1)
        #expect(try await s.direct.target(of: "a.service") == "m1")

        // A resigning leader hands over at once.
        await a.resign()
        try await Self.addUnit(s.direct, "b.service")
        #expect(try #require(await b.reconcileOnce().report).executed.count == 1)
        #expect(bStore.targetWrites == 1)
        #expect(await a.reconcileOnce() == .notLeader(holder: "engine-b"))
    }

    @Test func aDeposedEngineStopsWriting() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        let a = Self.engine(s.registry, "engine-a")
        #expect(await a.reconcileOnce().report != nil)

        // Another engine takes the lease over (e.g. after a's tenure lapsed in the store).
        try await s.direct.store.delete(Self.keys.engineLease, recursive: false, condition: .none)
        let b = LeaderLease(store: s.direct.store, key: Self.keys.engineLease, holderID: "engine-b", ttlSeconds: 10)
        guard case .held = await b.tick() else { Issue.record("b did not take the lease"); return }

        try await Self.addUnit(s.direct, "a.service")
        #expect(await a.reconcileOnce() == .notLeader(holder: "engine-b"))
        #expect(s.store.targetWrites == 0)
        #expect(try await s.direct.target(of: "a.service") == nil)
    }

    @Test func fencingStopsABatchWhenTheLeaseMayHaveRunOut() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        for i in 0..<6 { try await Self.addUnit(s.direct, "u\(i).service") }
        // A 1 s lease is trusted for 0.65 s after each renewal; each write here takes 0.4 s, two go out
        // at a time: the third pair would be sent after the lease may have run out.
        let engine = Self.engine(s.registry, "engine-a", leaseTTL: 1, batchSize: 100, writeConcurrency: 2)
        s.store.writeDelay = .milliseconds(400)

        let report = try #require(await engine.reconcileOnce().report)
        guard case .leaseLost = report.stopped else { Issue.record("expected leaseLost, got \(String(describing: report.stopped))"); return }
        #expect(report.executed.count < 6)
        #expect(s.store.mostTargetWritesInFlight == 2)
        #expect(s.store.targetWrites == report.executed.count)
        #expect(try await s.direct.units().filter { $0.target != nil }.count == report.executed.count)

        // A lease long enough for a batch: the same holder takes its lease back and finishes the pass
        // (on a loaded machine the first try may still find the 1 s lease or a slow store: retried).
        let batched = Self.engine(s.registry, "engine-a", leaseTTL: 5, batchSize: 2)
        var finished = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !finished && ContinuousClock.now < deadline {
            finished = await batched.reconcileOnce().report.map { $0.stopped == nil } ?? false
            if !finished { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(finished)
        #expect(try await s.direct.units().allSatisfy { $0.target == "m1" })
    }

    @Test func anUnreachableStoreChangesNothing() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        try await s.direct.createMachine(MachineState(id: "m2"), ttl: 30)
        try await Self.addUnit(s.direct, "a.service")
        let engine = Self.engine(s.registry, "m1")
        _ = await engine.reconcileOnce()
        #expect(try await s.direct.target(of: "a.service") == "m1")
        let writes = s.store.targetWrites

        // Nothing answers: no lease, no writes.
        s.store.unreachable = true
        guard case .storeUnavailable = await engine.reconcileOnce() else { Issue.record("expected storeUnavailable"); return }
        // The lease works but the registry cannot be read: still no writes.
        s.store.unreachable = false
        s.store.failReads = true
        try await s.direct.setDesiredState("a.service", to: .inactive)
        guard case .storeUnavailable = await engine.reconcileOnce() else { Issue.record("expected storeUnavailable"); return }
        #expect(s.store.targetWrites == writes)
        #expect(try await s.direct.target(of: "a.service") == "m1")

        // Back to normal: the placement was kept through the outage.
        s.store.failReads = false
        try await s.direct.setDesiredState("a.service", to: .launched)
        let report = try #require(await engine.reconcileOnce().report)
        #expect(report.executed.isEmpty)
        #expect(try await s.direct.target(of: "a.service") == "m1")
    }

    @Test func runReactsToStoreEventsAndReleasesTheLeaseOnCancel() async throws {
        let s = try Self.setup()
        // A long safety interval: only the watch can place the unit quickly.
        let engine = Self.engine(s.registry, "engine-a", leaseTTL: 3, safetyInterval: .seconds(120))
        let task = Task { await engine.run() }
        #expect(try await Self.eventually {
            try await s.direct.store.get(Self.keys.engineLease).node?.value?.contains("engine-a") ?? false
        })
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        try await Self.addUnit(s.direct, "a.service")
        #expect(try await Self.eventually { try await s.direct.target(of: "a.service") == "m1" })

        // Outlives several lease TTLs while idle: the lease is renewed in between passes.
        try await Task.sleep(for: .seconds(4))
        try await Self.addUnit(s.direct, "b.service")
        #expect(try await Self.eventually { try await s.direct.target(of: "b.service") == "m1" })

        task.cancel()
        await task.value
        // Released on the way out (or, if a loaded machine delayed a renewal past the TTL, expired).
        #expect(try await Self.eventually { try await s.direct.store.get(Self.keys.engineLease).node == nil })
    }

    /// After a long pass the engine lets a burst of events settle for up to twice the pass (at most
    /// 2 s) before the next one. Waiting for the store to take the lease is not the pass's work: at
    /// a cluster's boot the first take waited ~1 s for the store's election, the first unit then
    /// waited the 2 s settle, and the lease was not renewed meanwhile (a renewal is due every
    /// second with a 3 s TTL), so it ran out in the store while its holder believed it led, and
    /// the unit waited for another engine to take the lapsed lease.
    @Test func waitingForTheLeaseIsNotCountedAsAPassAndSettlingKeepsTheLeaseRenewed() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 60)
        s.store.delayNextLeaseWrite(by: .milliseconds(1200))
        let engine = Self.engine(s.registry, "engine-a", leaseTTL: 3, safetyInterval: .seconds(120))
        let task = Task { await engine.run() }
        #expect(try await Self.eventually {
            try await s.direct.store.get(Self.keys.engineLease).node?.value?.contains("engine-a") ?? false
        })
        let start = ContinuousClock.now
        try await Self.addUnit(s.direct, "first.service")
        #expect(try await Self.eventually { try await s.direct.target(of: "first.service") == "m1" })
        let placed = ContinuousClock.now - start
        #expect(placed < .seconds(1), "the first unit was placed after \(placed)")
        // A burst of events for a while: passes and settling waits alternate.
        for i in 0..<12 {
            try await Self.addUnit(s.direct, "u\(i).service")
            try await Task.sleep(for: .milliseconds(300))
        }
        let writes = s.store.leaseWrites
        let longest = zip(writes.dropFirst(), writes).map { $0 - $1 }.max() ?? .seconds(99)
        // Due every second; the holder counts the lease valid for 2.45 s after sending one.
        #expect(longest < .milliseconds(2000), "longest gap between lease writes \(longest) (\(writes.count) writes)")
        task.cancel()
        await task.value
    }

    @Test func twoRunningEnginesFailOverWhenTheLeaderStops() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 60)
        let aStore = s.store
        let bStore = ControllableStore(s.direct.store)
        let a = Self.engine(s.registry, "engine-a", leaseTTL: 3, safetyInterval: .seconds(120))
        let b = Self.engine(Registry(store: bStore, keys: Self.keys), "engine-b", leaseTTL: 3, safetyInterval: .seconds(120))
        let runA = Task { await a.run() }
        #expect(try await Self.eventually {
            try await s.direct.store.get(Self.keys.engineLease).node?.value?.contains("engine-a") ?? false
        })
        let runB = Task { await b.run() }

        try await Self.addUnit(s.direct, "a.service")
        #expect(try await Self.eventually { try await s.direct.target(of: "a.service") == "m1" })
        // One write attempt in all (refused attempts count too): never both engines.
        #expect(aStore.targetWrites + bStore.targetWrites == 1)

        // The leader stops (releasing the lease): the other takes over within a lease tick.
        runA.cancel()
        await runA.value
        try await Self.addUnit(s.direct, "b.service")
        #expect(try await Self.eventually { try await s.direct.target(of: "b.service") == "m1" })
        #expect(aStore.targetWrites + bStore.targetWrites == 2)
        #expect(bStore.targetWrites >= 1)
        runB.cancel()
        await runB.value
    }

    @Test func aStandbyTakesOverWhenADeadLeadersLeaseExpiresNotAtItsNextTick() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 60)
        // A leader that dies: it holds a 2 s lease and never renews it.
        let dead = LeaderLease(store: s.direct.store, key: Self.keys.engineLease, holderID: "engine-dead", ttlSeconds: 2)
        guard case .held = await dead.tick() else { Issue.record("the dying engine did not get the lease"); return }
        // The standby ticks only every 10 s (30 s TTL); the lease watch must wake it long before that.
        let standby = Self.engine(s.registry, "engine-b", leaseTTL: 30, safetyInterval: .seconds(120))
        let run = Task { await standby.run() }
        let started = ContinuousClock.now
        let tookOver = try await Self.eventually(8) {
            try await s.direct.store.get(Self.keys.engineLease).node?.value?.contains("engine-b") ?? false
        }
        let after = ContinuousClock.now - started
        #expect(tookOver)
        #expect(after < .seconds(8), "took over after \(after); its own tick was 10 s away")
        try await Self.addUnit(s.direct, "a.service")
        #expect(try await Self.eventually { try await s.direct.target(of: "a.service") == "m1" })
        run.cancel()
        await run.value
    }

    @Test func massMachineLossIsHeldUntilTheGraceRunsOut() async throws {
        let s = try Self.setup()
        for id in ["m1", "m2", "m3"] { try await s.direct.createMachine(MachineState(id: id), ttl: 30) }
        for i in 0..<3 { try await Self.addUnit(s.direct, "u\(i).service") }
        func engine(grace: Duration?) -> Engine {
            Engine(registry: s.registry, configuration: EngineConfiguration(
                machineID: "engine", leaseTTL: 10, massLossGrace: grace))
        }
        let holding = engine(grace: nil)
        _ = await holding.reconcileOnce()
        let before = try await s.direct.units().compactMap(\.target).sorted()
        #expect(before == ["m1", "m2", "m3"])

        // Two of three machines vanish in one snapshot: suspect the store, keep the placements.
        try await s.direct.removeMachine("m1")
        try await s.direct.removeMachine("m2")
        let held = try #require(await holding.reconcileOnce().report)
        #expect(held.executed.isEmpty)
        #expect(held.decisions.filter { if case .hold = $0.action { return true } else { return false } }.count == 2)
        #expect(try await s.direct.units().compactMap(\.target).sorted() == before)

        // Once the loss has lasted the grace period it is believed.
        await holding.resign()
        let believing = engine(grace: .zero)
        let moved = try #require(await believing.reconcileOnce().report)
        #expect(moved.executed.count == 4)  // two unschedules, two schedules
        #expect(try await s.direct.units().allSatisfy { $0.target == "m3" })
    }

    @Test func staleScheduleOfADestroyedUnitIsRemoved() async throws {
        let s = try Self.setup()
        try await s.direct.createMachine(MachineState(id: "m1"), ttl: 30)
        // The engine scheduled a unit that was destroyed meanwhile: its target outlived the job.
        try await s.direct.schedule("gone.service", on: "m1")
        let engine = Self.engine(s.registry, "engine")
        let report = try #require(await engine.reconcileOnce().report)
        #expect(report.orphansRemoved == ["gone.service"])
        #expect(try await s.direct.target(of: "gone.service") == nil)
        #expect(try #require(await engine.reconcileOnce().report).orphansRemoved.isEmpty)
    }

    @Test func placesManyUnitsInOnePass() async throws {
        let s = try Self.setup()
        for i in 0..<5 { try await s.direct.createMachine(MachineState(id: "m\(i)"), ttl: 60) }
        let count = 300
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in stride(from: worker, to: count, by: 8) { try await Self.addUnit(s.direct, "u\(i).service") }
                }
            }
            try await group.waitForAll()
        }
        let engine = Self.engine(s.registry, "engine")
        let started = ContinuousClock.now
        let report = try #require(await engine.reconcileOnce().report)
        let elapsed = ContinuousClock.now - started
        print("placed \(report.executed.count) units in \(elapsed)")
        #expect(report.executed.count == count)
        let perMachine = Dictionary(grouping: try await s.direct.units(), by: { $0.target ?? "-" }).mapValues(\.count)
        #expect(perMachine == ["m0": 60, "m1": 60, "m2": 60, "m3": 60, "m4": 60])
    }

    @Test func writesOfAPassGoOutConcurrentlyUpToTheLimit() async throws {
        let s = try Self.setup()
        for i in 0..<3 { try await s.direct.createMachine(MachineState(id: "m\(i)"), ttl: 60) }
        for i in 0..<40 { try await Self.addUnit(s.direct, "u\(i).service") }
        s.store.writeDelay = .milliseconds(20)
        let engine = Self.engine(s.registry, "engine", writeConcurrency: 8)
        let report = try #require(await engine.reconcileOnce().report)
        #expect(report.stopped == nil)
        #expect(report.executed.count == 40)
        #expect(s.store.mostTargetWritesInFlight == 8)
        #expect(s.store.targetWrites == 40)
        #expect(try await s.direct.units().allSatisfy { $0.target != nil })
    }

    @Test func writeWavesKeepEachUnitsOrderAndUnscheduleBeforeScheduleOnAMachine() {
        func d(_ unit: String, _ action: Decision.Action) -> Decision {
            Decision(unit: unit, action: action, reason: .leastLoaded(units: 0))
        }
        // 1,000 fresh placements: one wave of one-step chains.
        let fresh = (0..<1000).map { d("u\($0)", .schedule(machineID: "m\($0 % 3)")) }
        #expect(WriteWaves.split(fresh).map(\.count) == [1000])
        #expect(WriteWaves.chains(fresh).map(\.count) == [1000])
        // A dead machine's units, as the planner orders them (every unschedule first): one wave in
        // which each unit's unschedule and schedule form one chain, in that order.
        let moves = (0..<100).map { d("u\($0)", .unschedule(machineID: "dead")) }
            + (0..<100).map { d("u\($0)", .schedule(machineID: "m\($0 % 2)")) }
        let moveWaves = WriteWaves.chains(moves)
        #expect(moveWaves.count == 1)
        #expect(moveWaves[0].count == 100)
        #expect(moveWaves[0].allSatisfy { chain in
            chain.steps.map(\.decision.action) == [.unschedule(machineID: "dead"), chain.steps[1].decision.action]
                && chain.steps[0].index + 100 == chain.steps[1].index
        })
        // Interleaved pairs: one wave too.
        let pairs = (0..<4).flatMap { [d("u\($0)", .unschedule(machineID: "dead")), d("u\($0)", .schedule(machineID: "m1"))] }
        #expect(WriteWaves.split(pairs) == [pairs])
        // Replaces: x leaves m1 before y arrives there, so y waits for the next wave.
        let replace = [d("x", .unschedule(machineID: "m1")), d("y", .schedule(machineID: "m1")), d("x", .schedule(machineID: "m2"))]
        #expect(WriteWaves.split(replace).map { $0.map(\.unit) } == [["x"], ["y", "x"]])
        // A unit leaving and coming back to the same machine is its own chain, not a cut.
        let back = [d("x", .unschedule(machineID: "m1")), d("x", .schedule(machineID: "m1"))]
        #expect(WriteWaves.split(back) == [back])
    }

    @Test func wakeSignalCoalescesAndTimesOut() async {
        let signal = WakeSignal()
        #expect(await signal.wait(timeout: .milliseconds(10)) == false)
        signal.notify()
        signal.notify()
        #expect(await signal.wait(timeout: .seconds(10)) == true)
        #expect(await signal.wait(timeout: .milliseconds(10)) == false)  // coalesced into one
        let waiter = Task { await signal.wait(timeout: .seconds(30)) }
        try? await Task.sleep(for: .milliseconds(50))
        signal.notify()
        #expect(await waiter.value == true)
        let cancelled = Task { await signal.wait(timeout: .seconds(30)) }
        cancelled.cancel()
        #expect(await cancelled.value == false)
    }

    @Test func configurationFromFleetConf() {
        var config = FleetConfig()
        var engine = EngineConfiguration(config: config, machineID: "m1")
        // The lease TTL follows machine_ttl (3 s), not 5 × engine_reconcile_interval as in fleet.
        #expect(engine.leaseTTL == 3)
        #expect(engine.leaseTickInterval == .seconds(1))
        #expect(engine.safetyInterval == .seconds(30))  // 15 × engine_reconcile_interval: events drive passes
        #expect(engine.watch)
        config.engineReconcileInterval = 8
        config.disableWatches = true
        engine = EngineConfiguration(config: config, machineID: "m1")
        #expect(engine.leaseTTL == 3)
        #expect(engine.safetyInterval == .seconds(120))
        #expect(!engine.watch)
        #expect(engine.machineID == "m1")
        config.machineTTL = .milliseconds(2500)
        #expect(EngineConfiguration(config: config, machineID: "m1").leaseTTL == 3)  // whole seconds, rounded up
        config.engineLeaseTTL = .seconds(12)
        #expect(EngineConfiguration(config: config, machineID: "m1").leaseTTL == 12)
    }
}
