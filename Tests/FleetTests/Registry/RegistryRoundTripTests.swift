import Testing
import TestSupport
@testable import Fleet

/// Every registry record written and read back through a real etcd, at fleet's keys.
@Suite struct RegistryRoundTripTests {
    static let text = "[Unit]\nDescription=hello\n\n[Service]\nExecStart=/bin/sleep 1000\n"

    static func make() throws -> (RealEtcd, Registry) {
        let etcd = try RealEtcd()
        let store = try EtcdV2Client(urls: etcd.clientURL)
        return (etcd, Registry(store: store, keys: RegistryKeyLayout(prefix: "/test/fleet/")))
    }

    @Test func machinesAnnounceRefreshMetadataAndRemove() async throws {
        let (etcd, registry) = try Self.make()
        _ = etcd
        let m1 = MachineState(id: "m1", publicIP: "10.0.0.1", metadata: ["az": "zone1", "disk": "ssd"], version: "v1")
        try await registry.createMachine(m1, ttl: 30)
        await #expect(throws: RegistryError.machineAlreadyPresent("m1")) { try await registry.createMachine(m1, ttl: 30) }
        try await registry.refreshMachine("m1", ttl: 30)
        await #expect(throws: RegistryError.machineNotPresent("m2")) { try await registry.refreshMachine("m2", ttl: 30) }

        // The stored value is fleet's JSON at fleet's key, with a TTL.
        let raw = try #require(try await registry.store.get("/test/fleet/machines/m1/object").node)
        #expect(raw.ttl != nil)
        #expect(try RegistryJSON.decode(MachineState.self, from: raw.value ?? "") == m1)

        // Metadata overrides merge over the object; "" deletes a key.
        try await registry.setMachineMetadata("m1", key: "az", value: "zone2")
        try await registry.removeMachineMetadata("m1", key: "disk")
        try await registry.setMachineMetadata("m9", key: "az", value: "zone9")  // no object: not present
        let listed = try await registry.machines()
        #expect(listed.map(\.id) == ["m1"])
        #expect(listed.first?.metadata == ["az": "zone2"])
        #expect(listed.first?.publicIP == "10.0.0.1")
        #expect(try await registry.machine("m1")?.metadata == ["az": "zone2"])
        #expect(try await registry.machine("m9") == nil)

        var updated = m1
        updated.publicIP = "10.0.0.9"
        try await registry.updateMachine(updated, ttl: 30)
        #expect(try await registry.machine("m1")?.publicIP == "10.0.0.9")

        try await registry.removeMachine("m1")
        #expect(try await registry.machines().isEmpty)
        await #expect(throws: RegistryError.machineNotPresent("m1")) { try await registry.removeMachine("m1") }
        await #expect(throws: RegistryError.machineNotPresent("m1")) { try await registry.updateMachine(m1, ttl: 30) }
        // Overrides survive the machine's departure.
        #expect(try await registry.store.get("/test/fleet/machines/m1/metadata/az").node?.value == "zone2")
    }

    @Test func unitsCreateListDesiredStateAndDestroy() async throws {
        let (etcd, registry) = try Self.make()
        _ = etcd
        let unit = try RegistryUnit(name: "hello.service", text: Self.text, desiredState: .launched)
        try await registry.createUnit(unit)
        await #expect(throws: RegistryError.unitExists("hello.service", hash: unit.hash)) {
            try await registry.createUnit(unit)
        }
        // fleet's keys and encodings.
        let store = registry.store
        #expect(try await store.get("/test/fleet/job/hello.service/target-state").node?.value == "launched")
        let object = try #require(try await store.get("/test/fleet/job/hello.service/object").node?.value)
        #expect(object.contains("\"Name\":\"hello.service\""))
        #expect(object.contains("\"UnitHash\":["))
        let blob = try #require(try await store.get("/test/fleet/unit/\(unit.hash.hex)").node?.value)
        #expect(try RegistryJSON.decode(UnitBlob.self, from: blob) == unit.blob)

        // An instance of the same content shares the blob.
        let template = try RegistryUnit(name: "web@.service", text: Self.text, desiredState: .inactive)
        try await registry.createUnit(template)
        try await registry.createUnit(try template.instantiate("1", desiredState: .loaded))

        let stored = try #require(try await registry.unit("hello.service"))
        #expect(stored.unit == unit)
        #expect(stored.desiredState == .launched)
        #expect(stored.target == nil)
        #expect(try await registry.units().map(\.name) == ["hello.service", "web@.service", "web@1.service"])
        #expect(try await registry.unit("web@1.service")?.desiredState == .loaded)

        try await registry.setDesiredState("hello.service", to: .loaded)
        #expect(try await registry.unit("hello.service")?.desiredState == .loaded)
        await #expect(throws: RegistryError.unitNotFound("nope.service")) {
            try await registry.setDesiredState("nope.service", to: .loaded)
        }
        await #expect(throws: RegistryError.invalidUnit("web@.service", .cannotActivateTemplate("web@.service"))) {
            try await registry.setDesiredState("web@.service", to: .launched)
        }

        try await registry.destroyUnit("hello.service")
        #expect(try await registry.unit("hello.service") == nil)
        await #expect(throws: RegistryError.unitNotFound("hello.service")) { try await registry.destroyUnit("hello.service") }
        // The content-addressed blob stays (instances may share it).
        #expect(try await store.get("/test/fleet/unit/\(unit.hash.hex)").node != nil)
    }

    @Test func scheduleIsCreateOnlyAndUnscheduleCompares() async throws {
        let (etcd, registry) = try Self.make()
        _ = etcd
        try await registry.createUnit(try RegistryUnit(name: "a.service", text: Self.text, desiredState: .launched))
        try await registry.schedule("a.service", on: "m1")
        #expect(try await registry.target(of: "a.service") == "m1")
        #expect(try await registry.unit("a.service")?.target == "m1")
        await #expect(throws: RegistryError.alreadyScheduled(unit: "a.service", machineID: "m1")) {
            try await registry.schedule("a.service", on: "m2")
        }
        await #expect(throws: RegistryError.scheduledElsewhere(unit: "a.service", expected: "m2")) {
            try await registry.unschedule("a.service", from: "m2")
        }
        try await registry.unschedule("a.service", from: "m1")
        #expect(try await registry.target(of: "a.service") == nil)
        await #expect(throws: RegistryError.notScheduled(unit: "a.service")) {
            try await registry.unschedule("a.service", from: "m1")
        }
    }

    @Test func unitStatesHeartbeatsAndCurrentState() async throws {
        let (etcd, registry) = try Self.make()
        _ = etcd
        let unit = try RegistryUnit(name: "a.service", text: Self.text, desiredState: .launched)
        try await registry.createUnit(unit)
        try await registry.createMachine(MachineState(id: "m1"), ttl: 30)
        let record = UnitStateRecord(loadState: "loaded", activeState: "active", subState: "running",
                                     machineState: MachineState(id: "m1"), unitHash: unit.hash.hex)
        try await registry.publishUnitState("a.service", machineID: "m1", record, ttl: 30)
        #expect(try await registry.unitStates() == ["a.service": ["m1": record]])
        #expect(try await registry.unitStates("a.service") == ["a.service": ["m1": record]])
        #expect(try await registry.legacyUnitState("a.service") == record)
        #expect(try await registry.store.get("/test/fleet/states/a.service/m1").node?.ttl != nil)

        var snapshot = try await registry.snapshot()
        var stored = try #require(snapshot.units.first)
        #expect(snapshot.currentState(of: stored) == .inactive)  // not scheduled

        try await registry.schedule("a.service", on: "m1")
        snapshot = try await registry.snapshot()
        stored = try #require(snapshot.units.first)
        #expect(snapshot.currentState(of: stored) == .loaded)

        try await registry.setHeartbeat("a.service", machineID: "m1", ttl: 30)
        snapshot = try await registry.snapshot()
        stored = try #require(snapshot.units.first)
        #expect(stored.heartbeat == "m1")
        #expect(snapshot.currentState(of: stored) == .launched)

        try await registry.clearHeartbeat("a.service", machineID: "m2")  // not its heartbeat: kept
        #expect(try await registry.unit("a.service")?.heartbeat == "m1")
        try await registry.clearHeartbeat("a.service", machineID: "m1")
        #expect(try await registry.unit("a.service")?.heartbeat == nil)

        try await registry.removeUnitState("a.service", machineID: "m1")
        #expect(try await registry.unitStates().isEmpty)
        #expect(try await registry.legacyUnitState("a.service") == nil)
    }

    @Test func snapshotIsOneConsistentReadAndSkipsBadRecords() async throws {
        let (etcd, registry) = try Self.make()
        _ = etcd
        try await registry.createMachine(MachineState(id: "m1", metadata: ["az": "a"]), ttl: 30)
        try await registry.createUnit(try RegistryUnit(name: "a.service", text: Self.text, desiredState: .launched))
        try await registry.createUnit(try RegistryUnit(name: "b.service", text: Self.text, desiredState: .launched))
        try await registry.schedule("b.service", on: "m1")
        // fleet's bug 6: an invalid desired state must not hide the other units.
        try await registry.store.set("/test/fleet/job/bad.service/object",
                                     value: "{\"Name\":\"bad.service\",\"UnitHash\":\(String(describing: Array(repeating: 0, count: 20)))}")
        try await registry.store.set("/test/fleet/job/a.service/target-state", value: "bogus")
        try await registry.store.set("/test/fleet/job/corrupt.service/object", value: "{not json")
        try await registry.store.set("/test/fleet/job/corrupt.service/target", value: "m1")
        // A target left behind by a destroy race.
        try await registry.store.set("/test/fleet/job/gone.service/target", value: "m1")

        let snapshot = try await registry.snapshot()
        #expect(snapshot.machines.map(\.id) == ["m1"])
        #expect(snapshot.units.map(\.name) == ["b.service"])
        #expect(snapshot.schedule == ["b.service": "m1"])
        #expect(snapshot.orphanTargets == ["gone.service": "m1"])
        #expect(snapshot.problems.count == 3)
        #expect(snapshot.problems.contains(.invalidUnit("a.service", .invalidDesiredState("bogus"))))
        let (_, index) = try await registry.store.get("/test/fleet/", recursive: false, quorum: false)
        #expect(snapshot.index == index)
    }
}
