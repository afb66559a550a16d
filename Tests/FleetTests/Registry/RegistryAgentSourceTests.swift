import Foundation
import Testing
import TestSupport
@testable import Fleet

/// The store-backed ``AgentSource`` against a real etcd.
@Suite struct RegistryAgentSourceTests {
    static let text = "[Unit]\nDescription=t\n\n[Service]\nExecStart=/bin/sleep 1000\n"

    static func make() throws -> (RealEtcd, Registry, RegistryAgentSource) {
        let etcd = try RealEtcd()
        let registry = Registry(store: try EtcdV2Client(urls: etcd.clientURL), keys: RegistryKeyLayout(prefix: "/t/"))
        return (etcd, registry, RegistryAgentSource(registry: registry, machineID: "m1", ttl: 30))
    }

    static func add(_ registry: Registry, _ name: String, _ extra: String = "", state: FleetState = .launched,
                    on machine: String? = nil) async throws {
        try await registry.createUnit(try RegistryUnit(name: name, text: text + extra, desiredState: state))
        if let machine { try await registry.schedule(name, on: machine) }
    }

    @Test func desiredUnitsAreScheduledHerePlusGlobal() async throws {
        let (etcd, registry, source) = try Self.make()
        _ = etcd
        try await Self.add(registry, "a.service", on: "m1")
        try await Self.add(registry, "b.service", on: "m2")
        try await Self.add(registry, "c.service", state: .loaded, on: "m1")
        try await Self.add(registry, "g.service", "\n[X-Fleet]\nGlobal=true\n")
        try await Self.add(registry, "i.service", state: .inactive)
        let desired = try await source.desiredUnits(for: MachineState(id: "m1"))
        #expect(desired.map(\.name) == ["a.service", "c.service", "g.service"])
        #expect(desired.first { $0.name == "c.service" }?.targetState == .loaded)
        #expect(desired.first?.hash == (try await registry.unit("a.service"))?.unit.hash)

        // An unreadable unit scheduled elsewhere does not matter here; one scheduled here stops the answer.
        try await registry.store.set("/t/job/x.service/object", value: "{broken")
        try await registry.store.set("/t/job/x.service/target", value: "m2")
        #expect(try await source.desiredUnits(for: MachineState(id: "m1")).count == 3)
        try await registry.store.set("/t/job/y.service/object", value: "{broken")
        try await registry.store.set("/t/job/y.service/target", value: "m1")
        await #expect(throws: AgentSourceError.self) { try await source.desiredUnits(for: MachineState(id: "m1")) }
    }

    @Test func publishesStatesAndHeartbeats() async throws {
        let (etcd, registry, source) = try Self.make()
        _ = etcd
        try await Self.add(registry, "a.service", on: "m1")
        try await Self.add(registry, "b.service", on: "m1")
        let record = UnitStateRecord(loadState: "loaded", activeState: "active", subState: "running",
                                     machineState: MachineState(id: "m1"), unitHash: String(repeating: "0", count: 40))
        try await source.publish([PublishedUnitState(unit: "a.service", record: record)])
        #expect(try await registry.unitStates() == ["a.service": ["m1": record]])
        try await source.publish([PublishedUnitState(unit: "a.service", record: nil)])
        #expect(try await registry.unitStates().isEmpty)

        try await source.heartbeat(launched: ["a.service", "b.service"])
        #expect(try await registry.unit("a.service")?.heartbeat == "m1")
        #expect(try await registry.unit("b.service")?.heartbeat == "m1")
        try await source.heartbeat(launched: ["b.service"])
        #expect(try await registry.unit("a.service")?.heartbeat == nil)
        #expect(try await registry.unit("b.service")?.heartbeat == "m1")
    }

    @Test func changesFireForDesiredStateChangesHere() async throws {
        let (etcd, registry, source) = try Self.make()
        _ = etcd
        try await Self.add(registry, "a.service", on: "m1")
        let stream = await source.changes()
        let seen = Counter()
        let consumer = Task {
            for await _ in stream { seen.add() }
        }
        // The first notification follows the watch's initial read; wait for it (bounded).
        let synced = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < synced, seen.value == 0 { try await Task.sleep(for: .milliseconds(50)) }
        let before = seen.value
        #expect(before >= 1)
        // Keep changing the unit until a change is reported (bounded).
        let deadline = ContinuousClock.now + .seconds(10)
        var toggle = false
        while ContinuousClock.now < deadline, seen.value == before {
            toggle.toggle()
            try await registry.setDesiredState("a.service", to: toggle ? .loaded : .launched)
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(seen.value > before)
        consumer.cancel()
        await consumer.value
    }
}
