import KV
import Testing
@testable import Fleet

/// The engine's incremental model: following watch events it must reach exactly what a full read
/// gives, wake the engine only for plan-relevant changes, and let the running engine place and
/// move units without reading the registry again.
@Suite struct EngineModelTests {
    static let keys = RegistryKeyLayout(prefix: "/em/")

    static func registry() -> Registry {
        let backend = UnreplicatedBackend(name: "em", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        backend.startExpiry()
        return Registry(store: InProcessStoreClient(backend: backend), keys: keys)
    }

    static func unit(_ name: String, _ xfleet: String = "", state: FleetState = .launched) throws -> RegistryUnit {
        try RegistryUnit(name: name, text: EngineTests.unitText(xfleet), desiredState: state)
    }

    /// What the planner sees of a snapshot (heartbeats and published states are not followed).
    struct Planned: Equatable {
        var machines: [MachineState]
        var units: [StoredUnit]
        var orphans: [String: String]
        var problems: Int

        init(_ snapshot: RegistrySnapshot) {
            machines = snapshot.machines
            units = snapshot.units.map { StoredUnit(unit: $0.unit, target: $0.target) }
            orphans = snapshot.orphanTargets
            problems = snapshot.problems.count
        }
    }

    static func fullRead(_ registry: Registry) async throws -> EngineModel {
        let (node, index) = try await registry.store.get(keys.prefix, recursive: true, quorum: true)
        return EngineModel(leaves: node?.leaves ?? [], index: index, keys: keys)
    }

    @Test func aModelFollowingEventsReachesWhatAFullReadGives() async throws {
        let registry = Self.registry()
        try await registry.createMachine(MachineState(id: "m1", metadata: ["disk": "ssd"]), ttl: 30)
        try await registry.createMachine(MachineState(id: "m2"), ttl: 30)
        for name in ["a", "b", "c", "d"] { try await registry.createUnit(try Self.unit("\(name).service")) }
        try await registry.schedule("a.service", on: "m1")
        try await registry.schedule("b.service", on: "m2")
        try await registry.schedule("c.service", on: "m2")

        var model = try await Self.fullRead(registry)
        let initial = Planned(model.snapshot())
        #expect(initial == Planned(try await registry.snapshot()))
        let watch = try registry.store.subscribe(String(Self.keys.prefix.dropLast()), recursive: true,
                                                 fromIndex: model.index + 1)
        defer { watch.cancel() }

        // Every kind of plan-relevant change, and some that are not.
        try await registry.createUnit(try Self.unit("e.service", "MachineMetadata=disk=ssd"))
        try await registry.schedule("e.service", on: "m1")
        try await registry.setDesiredState("a.service", to: .inactive)
        try await registry.destroyUnit("b.service")
        try await registry.unschedule("c.service", from: "m2")
        try await registry.setMachineMetadata("m2", key: "az", value: "1")
        try await registry.removeMachine("m1")
        try await registry.store.set(Self.keys.jobObject("bad.service"), value: "{not json", ttl: nil, condition: .none)
        try await registry.store.set(Self.keys.jobTarget("gone.service"), value: "m2", ttl: nil, condition: .none)
        try await registry.publishUnitState("d.service", machineID: "m2", UnitStateRecord(
            loadState: "loaded", activeState: "active", subState: "running", machineState: nil,
            unitHash: String(repeating: "0", count: 40)), ttl: 30)
        try await registry.setHeartbeat("d.service", machineID: "m2", ttl: 30)
        try await registry.createUnit(try Self.unit("f.service", state: .loaded))
        try await registry.destroyUnit("f.service")

        let target = try await registry.store.get(Self.keys.engineVersion, recursive: false, quorum: false).index
        while model.index < target {
            guard let event = try await watch.next() else { break }
            model.apply(event)
        }
        let followed = Planned(model.snapshot())
        #expect(followed == Planned(try await registry.snapshot()))
        var reread = try await Self.fullRead(registry)
        let fromReread = Planned(reread.snapshot())
        #expect(followed == fromReread)
        // The changes did land: the model is not simply unchanged.
        #expect(followed.machines.map(\.id) == ["m2"])
        #expect(followed.machines.first?.metadata?["az"] == "1")
        #expect(followed.units.map(\.name) == ["a.service", "c.service", "d.service", "e.service"])
        #expect(followed.units.first { $0.name == "a.service" }?.desiredState == .inactive)
        #expect(followed.orphans == ["gone.service": "m2"])
        #expect(followed.problems == 1)
    }

    @Test func onlyPlanRelevantEventsWakeTheEngineAndAMachineLossIsUrgent() {
        let k = Self.keys
        var model = EngineModel(leaves: [], index: 1, keys: k)
        func event(_ action: String, _ key: String, _ value: String? = nil, dir: Bool = false, index: UInt64)
            -> StoreWatchEvent
        {
            StoreWatchEvent(action: action, node: StoreNode(key: key, value: value, dir: dir, modifiedIndex: index))
        }
        let text = (try? RegistryJSON.encode(MachineState(id: "m1"))) ?? ""
        let machine = event("set", k.machineObject("m1"), text, index: 2)
        let applied1 = model.apply(machine)
        #expect(applied1)
        #expect(!model.isMachineLoss(machine))
        let s1 = model.snapshot()
        #expect(s1.machines.map(\.id) == ["m1"])
        let applied2 = model.apply(event("set", k.machineMetadata("m1", key: "az"), "1", index: 3))
        #expect(applied2)
        let applied3 = model.apply(event("set", k.jobTargetState("a.service"), "launched", index: 4))
        #expect(applied3)
        let applied4 = model.apply(event("set", k.jobTarget("a.service"), "m1", index: 5))
        #expect(applied4)
        let applied5 = model.apply(event("set", k.jobHeartbeat("a.service"), "m1", index: 6))
        #expect(!applied5)
        let applied6 = model.apply(event("set", k.unitState("a.service", machineID: "m1"), "{}", index: 7))
        #expect(!applied6)
        let applied7 = model.apply(event("set", k.legacyUnitState("a.service"), "{}", index: 8))
        #expect(!applied7)
        let applied8 = model.apply(event("set", k.engineLease, "x", index: 9))
        #expect(!applied8)
        let applied9 = model.apply(event("set", "/elsewhere/machines/m9/object", "{}", index: 10))
        #expect(!applied9)
        #expect(model.index == 10)
        // A target without a job object is an orphan; destroying the job directory removes it.
        let s2 = model.snapshot()
        #expect(s2.orphanTargets == ["a.service": "m1"])
        let applied10 = model.apply(event("delete", k.jobDirectory("a.service"), dir: true, index: 11))
        #expect(applied10)
        let s3 = model.snapshot()
        #expect(s3.orphanTargets.isEmpty)
        // The machine's presence expiring is a loss to act on at once; a metadata change is not.
        let expiry = event("expire", k.machineObject("m1"), index: 12)
        #expect(model.isMachineLoss(expiry))
        #expect(!model.isMachineLoss(event("delete", k.machineMetadata("m1", key: "az"), index: 12)))
        let applied11 = model.apply(expiry)
        #expect(applied11)
        let s4 = model.snapshot()
        #expect(s4.machines.isEmpty)
    }

    @Test func aRunningEnginePlacesAndMovesUnitsWithoutReadingTheRegistryAgain() async throws {
        let inner = Self.registry()
        let store = ControllableStore(inner.store)
        let registry = Registry(store: store, keys: Self.keys)
        for id in ["m1", "m2", "m3"] { try await inner.createMachine(MachineState(id: id), ttl: 30) }
        let engine = EngineTests.engine(registry, "engine", leaseTTL: 3, safetyInterval: .seconds(120))
        let run = Task { await engine.run() }
        defer { run.cancel() }
        try await inner.createUnit(try Self.unit("first.service"))
        #expect(try await EngineTests.eventually { try await inner.target(of: "first.service") != nil })
        let reads = store.recursiveGets
        // Presence refreshes advance the store's index without any watch event: the engine must not
        // take that for a model that is behind (and fall back to full reads).
        let refresher = Task {
            while !Task.isCancelled {
                for id in ["m1", "m2", "m3"] { try? await inner.refreshMachine(id, ttl: 30) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        defer { refresher.cancel() }

        for i in 0..<30 {
            try await inner.createUnit(try Self.unit("u\(i).service"))
            if i % 10 == 9 { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(try await EngineTests.eventually {
            try await inner.units().allSatisfy { $0.target != nil }
        })
        let placed = try await inner.units()
        // Least loaded: 31 units on 3 machines, no machine with more than 11.
        let counts = Dictionary(grouping: placed, by: { $0.target! }).mapValues(\.count)
        #expect(counts.values.max() ?? 0 <= 11)

        // A machine goes away: its units move, and no one ends up on it.
        let lost = placed.filter { $0.target == "m2" }.map(\.name)
        #expect(!lost.isEmpty)
        refresher.cancel()
        try await inner.removeMachine("m2")
        #expect(try await EngineTests.eventually {
            let units = try await inner.units()
            return units.allSatisfy { $0.target != nil && $0.target != "m2" }
        })
        // Each write once: 31 placements and one compare-and-swap per moved unit.
        #expect(store.targetWrites == 31 + lost.count)
        #expect(store.recursiveGets == reads, "event passes planned from the model, not from reads")
        run.cancel()
        await run.value
    }
}
