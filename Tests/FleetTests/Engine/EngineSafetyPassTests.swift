import KV
import Testing
import TestSupport
@testable import Fleet

/// The periodic safety pass compares one full read with the followed model instead of rebuilding
/// it: it must still see every plan-relevant change the watch missed (and rebuild and plan from
/// it), and when the model agrees with the store and was already planned with no writes, it skips
/// planning — which is safe because such a plan would give the same decisions and no writes.
@Suite struct EngineSafetyPassTests {
    static let keys = EngineModelTests.keys

    static func read(_ registry: Registry) async throws -> (node: StoreNode?, index: UInt64) {
        try await registry.store.get(keys.prefix, recursive: true, quorum: true)
    }

    static func model(_ registry: Registry) async throws -> EngineModel {
        let read = try await read(registry)
        return EngineModel(leaves: read.node?.leaves ?? [], index: read.index, keys: keys)
    }

    /// Two machines (one with a metadata override), three units (one scheduled, one not, one whose
    /// job object is corrupt).
    static func populated() async throws -> Registry {
        let registry = EngineModelTests.registry()
        try await registry.createMachine(MachineState(id: "m1", metadata: ["disk": "ssd"]), ttl: 30)
        try await registry.createMachine(MachineState(id: "m2"), ttl: 30)
        for name in ["a", "b"] { try await registry.createUnit(try EngineModelTests.unit("\(name).service")) }
        try await registry.schedule("a.service", on: "m1")
        try await registry.setMachineMetadata("m1", key: "rack", value: "r1")
        try await registry.store.set(keys.jobObject("bad.service"), value: "{not json", ttl: nil, condition: .none)
        return registry
    }

    @Test func aModelBuiltFromAReadAgreesWithItAndIgnoresStatesAndHeartbeats() async throws {
        let registry = try await Self.populated()
        let model = try await Self.model(registry)
        #expect(model.divergence(from: try await Self.read(registry).node) == nil)
        // What the model does not follow cannot make it diverge.
        try await registry.setHeartbeat("a.service", machineID: "m1", ttl: 30)
        try await registry.publishUnitState("a.service", machineID: "m1", UnitStateRecord(
            loadState: "loaded", activeState: "active", subState: "running", machineState: nil,
            unitHash: String(repeating: "0", count: 40)), ttl: 30)
        try await registry.refreshMachine("m2", ttl: 30)
        #expect(model.divergence(from: try await Self.read(registry).node) == nil)
        // An empty registry agrees with an empty model, and not with a populated one.
        let empty = EngineModel(leaves: [], index: 1, keys: Self.keys)
        #expect(empty.divergence(from: nil) == nil)
        let againstEmpty = model.divergence(from: nil)
        #expect(againstEmpty?.differing == 0)
        #expect((againstEmpty?.onlyInModel ?? 0) > 0)
    }

    @Test func everyKindOfChangeMadeBehindTheModelsBackIsSeen() async throws {
        let registry = try await Self.populated()
        let blob = try #require(try await registry.units().first { $0.name == "a.service" }).unit.hash
        // Each change, made after the model was read, with the keys the check must find.
        let changes: [([String], @Sendable (Registry) async throws -> Void)] = [
            ([Self.keys.jobTarget("b.service")], { try await $0.schedule("b.service", on: "m2") }),
            ([Self.keys.jobTarget("a.service")], { try await $0.reschedule("a.service", from: "m1", to: "m2") }),
            ([Self.keys.jobTargetState("b.service")], { try await $0.setDesiredState("b.service", to: .inactive) }),
            ([Self.keys.jobObject("c.service"), Self.keys.jobTargetState("c.service")], {
                try await $0.createUnit(try EngineModelTests.unit("c.service"))
            }),
            ([Self.keys.machineObject("m3")], { try await $0.createMachine(MachineState(id: "m3"), ttl: 30) }),
            ([Self.keys.machineMetadata("m2", key: "az")], { try await $0.setMachineMetadata("m2", key: "az", value: "1") }),
            ([Self.keys.machineMetadata("m1", key: "rack")], { try await $0.removeMachineMetadata("m1", key: "rack") }),
            ([Self.keys.machineObject("m1")], {
                try await $0.store.set(Self.keys.machineObject("m1"), value: "{not json", ttl: nil, condition: .none)
            }),
            ([Self.keys.unitBlob(blob)], {
                try await $0.store.set(Self.keys.unitBlob(blob), value: "{}", ttl: nil, condition: .none)
            }),
        ]
        for (keys, change) in changes {
            let registry = try await Self.populated()
            let model = try await Self.model(registry)
            try await change(registry)
            let divergence = model.divergence(from: try await Self.read(registry).node)
            #expect(divergence?.differing == keys.count, "\(keys)")
            #expect(divergence?.onlyInModel == 0, "\(keys)")
            #expect(keys.contains(divergence?.example ?? ""), "\(keys): \(String(describing: divergence))")
        }
        // Removals: the model holds what the store no longer does.
        let removals: [(Int, @Sendable (Registry) async throws -> Void)] = [
            (1, { try await $0.removeMachine("m2") }),
            (1, { try await $0.unschedule("a.service", from: "m1") }),
            // object and target-state of b.
            (2, { try await $0.destroyUnit("b.service") }),
            (1, { try await $0.store.delete(Self.keys.unitBlob(blob), recursive: false, condition: .none) }),
            (1, { try await $0.store.delete(Self.keys.machineMetadata("m1", key: "rack"), recursive: false,
                                            condition: .none) }),
        ]
        for (count, removal) in removals {
            let registry = try await Self.populated()
            let model = try await Self.model(registry)
            try await removal(registry)
            let divergence = model.divergence(from: try await Self.read(registry).node)
            #expect(divergence?.onlyInModel == count)
        }
    }

    /// A running engine whose watch loses the events of some keys (a lost event, or one the model
    /// did not hear of), with safety passes every second, against a real etcd over HTTP (the
    /// remote client and its watches, as fleetd uses them).
    struct Running {
        let inner: Registry
        let store: ControllableStore
        let engine: Engine
        let task: Task<Void, Never>
        let units: Int
        let etcd: RealEtcd

        init(units: Int) async throws {
            self.units = units
            let etcd = try RealEtcd()
            self.etcd = etcd
            inner = Registry(store: try EtcdV2Client(urls: etcd.clientURL, timeout: 5), keys: EngineModelTests.keys)
            store = ControllableStore(inner.store)
            // Machines that outlive any slow run: only the test itself changes the registry.
            for id in ["m1", "m2", "m3"] { try await inner.createMachine(MachineState(id: id), ttl: 3600) }
            for i in 0..<units { try await inner.createUnit(try EngineModelTests.unit("u\(i).service")) }
            // One unit no machine can take: the settled plan is not empty.
            try await inner.createUnit(try EngineModelTests.unit("nowhere.service", "MachineID=absent"))
            engine = EngineTests.engine(
                Registry(store: store, keys: EngineModelTests.keys), "engine", leaseTTL: 3,
                safetyInterval: .seconds(1))
            let engine = self.engine
            task = Task { await engine.run() }
        }

        func placed() async throws -> [String: String] {
            var placed: [String: String] = [:]
            for unit in try await inner.units() { placed[unit.name] = unit.target }
            return placed
        }

        /// Waits until every placeable unit (`u0`…) is placed; `nowhere.service` never is.
        func settle() async throws -> Bool {
            try await EngineTests.eventually(30) {
                let placed = try await placed()
                return (0..<units).allSatisfy { placed["u\($0).service"] != nil } && placed["nowhere.service"] == nil
            }
        }

        /// Waits for a safety pass that starts after this call to find the model in agreement with
        /// the store: from then on the model holds every write made so far (the engine's own
        /// included), so a change the watch then loses is one the model has not heard of.
        func confirmed() async -> Bool {
            let before = await engine.statistics.modelsConfirmed
            return await EngineTests.eventually(30) { await engine.statistics.modelsConfirmed >= before + 2 }
        }

        func stop() async {
            task.cancel()
            await task.value
        }
    }

    @Test func aMachineRemovalTheWatchMissedIsRepairedByTheSafetyPass() async throws {
        let cluster = try await Running(units: 6)
        #expect(try await cluster.settle())
        #expect(await cluster.confirmed())
        let lost = try await cluster.placed().filter { $0.value == "m2" }.keys
        #expect(!lost.isEmpty)
        let rebuildsBefore = await cluster.engine.statistics.modelRebuilds
        cluster.store.dropWatchEvents { $0.contains("/machines/m2/") }
        try await cluster.inner.removeMachine("m2")
        #expect(try await EngineTests.eventually(30) {
            let placed = try await cluster.placed()
            return lost.allSatisfy { placed[$0] != nil && placed[$0] != "m2" }
        })
        let statistics = await cluster.engine.statistics
        #expect(statistics.modelRebuilds > rebuildsBefore)
        await cluster.stop()
    }

    @Test func aScheduleEntryDeletedBehindTheModelsBackIsRestoredByTheSafetyPass() async throws {
        let cluster = try await Running(units: 4)
        #expect(try await cluster.settle())
        #expect(await cluster.confirmed())
        // Every event of u0's schedule entry is lost from now on, the engine's own write's included.
        cluster.store.dropWatchEvents { $0.hasSuffix("/job/u0.service/target") }
        let before = try await cluster.placed()["u0.service"]
        let rebuildsBefore = await cluster.engine.statistics.modelRebuilds
        try await cluster.inner.store.delete(EngineModelTests.keys.jobTarget("u0.service"), recursive: false,
                                             condition: .none)
        #expect(try await EngineTests.eventually(30) { try await cluster.inner.target(of: "u0.service") != nil })
        let statistics = await cluster.engine.statistics
        #expect(statistics.modelRebuilds > rebuildsBefore)
        #expect(before != nil)
        await cluster.stop()
    }

    @Test func settledSafetyPassesConfirmTheModelAndSkipPlanningWithoutWriting() async throws {
        let cluster = try await Running(units: 8)
        #expect(try await cluster.settle())
        // The first skipped plan: the model has caught up with the engine's last writes (a safety
        // pass racing the watch right after them may have rebuilt it once; that is allowed).
        #expect(await EngineTests.eventually(30) { await cluster.engine.statistics.plansSkipped >= 1 })
        let settled = try await cluster.placed()
        let start = await cluster.engine.statistics
        let writes = cluster.store.targetWrites
        // From then on nothing changes: every safety pass confirms the model and skips planning.
        #expect(await EngineTests.eventually(30) {
            await cluster.engine.statistics.plansSkipped >= start.plansSkipped + 2
        })
        let statistics = await cluster.engine.statistics
        #expect(statistics.fullReads >= start.fullReads + 2)
        #expect(statistics.modelsConfirmed >= start.modelsConfirmed + 2)
        #expect(statistics.modelRebuilds == start.modelRebuilds)
        #expect(cluster.store.targetWrites == writes)
        #expect(try await cluster.placed() == settled)

        // What a skipped plan stands for: planning the same registry again wants no writes and
        // gives exactly the decisions the engine reports (the unplaceable unit).
        let report = try #require(await cluster.engine.reconcileOnce().report)
        #expect(report.executed.isEmpty)
        let snapshot = try await cluster.inner.snapshot()
        let replanned = Scheduler.plan(
            machines: snapshot.machines.map { SchedulerMachine($0) }, units: snapshot.units.map { SchedulerUnit($0.unit) },
            schedule: snapshot.schedule)
        #expect(report.decisions == replanned)
        #expect(replanned.map(\.unit) == ["nowhere.service"])
        #expect(replanned.allSatisfy { $0.action == .unschedulable })
        await cluster.stop()
    }
}
