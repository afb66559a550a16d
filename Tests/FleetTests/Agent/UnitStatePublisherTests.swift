import Testing

@testable import Fleet

/// ``UnitStatePublisher``: only changes are published, deletions included, and nothing is confirmed
/// until the store took it.
@Suite struct UnitStatePublisherTests {
    typealias F = AgentFixtures
    static let running = UnitState(loadState: .loaded, activeState: .active, subState: "running")
    static let dead = UnitState(loadState: .loaded, activeState: .inactive, subState: "dead")

    @Test func publishesOnlyChanges() throws {
        var publisher = UnitStatePublisher(machine: F.machine)
        let hash = try F.hash()
        let a = try #require(publisher.record(for: Self.running, hash: hash))
        let b = try #require(publisher.record(for: Self.dead, hash: hash))
        #expect(a.machineState == F.machine && a.unitHash == hash.hex && a.activeState == "active")

        let first = publisher.changes(current: ["a.service": a, "b.service": b])
        #expect(first.map(\.unit) == ["a.service", "b.service"])
        publisher.confirm(first)
        #expect(publisher.changes(current: ["a.service": a, "b.service": b]).isEmpty)

        let aStopped = try #require(publisher.record(for: Self.dead, hash: hash))
        #expect(publisher.changes(current: ["a.service": aStopped, "b.service": b]) == [
            PublishedUnitState(unit: "a.service", record: aStopped)
        ])
        #expect(publisher.changes(current: ["a.service": a]) == [PublishedUnitState(unit: "b.service", record: nil)])
        #expect(publisher.fullRepublish(current: ["a.service": a]).map(\.description) == [
            "a.service: loaded/active/running", "b.service: deleted",
        ])
    }

    @Test func unconfirmedChangesStayPending() throws {
        let publisher = UnitStatePublisher(machine: F.machine)
        let a = try #require(publisher.record(for: Self.running, hash: try F.hash()))
        _ = publisher.changes(current: ["a.service": a])  // publish failed: not confirmed
        #expect(publisher.changes(current: ["a.service": a]).count == 1)
    }

    @Test func refusesStatesWithoutHashOrMachineID() throws {
        #expect(UnitStatePublisher(machine: F.machine).record(for: Self.running, hash: nil) == nil)
        #expect(UnitStatePublisher(machine: MachineState(id: "")).record(for: Self.running, hash: try F.hash()) == nil)
    }

    @Test func configurationFollowsAgentTTL() {
        #expect(AgentConfiguration(agentTTL: .seconds(30)).republishInterval == .seconds(24))
        #expect(AgentConfiguration(agentTTL: .seconds(10)).republishInterval == .seconds(5))
    }
}
