import KV
import Synchronization
import Testing
@testable import Fleet

/// Unit heartbeats: a change of the launched set writes only what changed; every launched unit's
/// TTL is renewed only by the periodic (forced) heartbeat, or the next one after such a renewal
/// failed.
@Suite struct AgentHeartbeatRenewTests {
    private typealias F = AgentFixtures

    @Test func registrySourceWritesOnlyTheChangeUnlessRenewing() async throws {
        let backend = UnreplicatedBackend(name: "h", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let store = RecordingStore(InProcessStoreClient(backend: backend))
        let registry = Registry(store: store, keys: RegistryKeyLayout(prefix: "/hb/"))
        let source = RegistryAgentSource(registry: registry, machineID: "m1", ttl: 30)
        let keys = registry.keys

        try await source.heartbeat(launched: ["a.service", "b.service"], renew: false)
        #expect(Set(store.writes) == [keys.jobHeartbeat("a.service"), keys.jobHeartbeat("b.service")])
        store.clear()
        // One more unit: only it is written; a and b are left alone.
        try await source.heartbeat(launched: ["a.service", "b.service", "c.service"], renew: false)
        #expect(store.writes == [keys.jobHeartbeat("c.service")])
        #expect(store.refreshes.isEmpty)
        store.clear()
        // b stopped: only its heartbeat is cleared.
        try await source.heartbeat(launched: ["a.service", "c.service"], renew: false)
        #expect(store.writes == [keys.jobHeartbeat("b.service")])
        #expect(store.refreshes.isEmpty)
        #expect(try await store.get(keys.jobHeartbeat("b.service")).node == nil)
        store.clear()
        // Renewing refreshes every launched unit's TTL (no rewrite, no event) and remembers them.
        try await source.heartbeat(launched: ["a.service", "c.service"], renew: true)
        #expect(Set(store.refreshes) == [keys.jobHeartbeat("a.service"), keys.jobHeartbeat("c.service")])
        #expect(store.writes.isEmpty)
        store.clear()
        try await source.heartbeat(launched: ["a.service", "c.service"])  // the old entry point renews
        #expect(store.refreshes.count == 2)
        #expect(try await store.get(keys.jobHeartbeat("a.service")).node?.value == "m1")
    }

    /// The agent asks for a renewal only on the forced heartbeat, and again after one failed.
    @Test func agentRenewsOnlyWhenForcedOrAfterAFailedRenewal() async throws {
        let inner = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let source = RenewRecordingSource(inner)
        let units = InMemoryUnitManager()
        let agent = Agent(machine: F.machine, source: source, units: units, logger: F.quiet)
        await agent.reconcileOnce()
        #expect(source.renews == [false])  // a started: the set changed, nothing to renew

        inner.set(units: [try F.unit("a.service"), try F.unit("b.service")],
                  schedule: ["a.service": F.machine.id, "b.service": F.machine.id])
        await agent.reconcileOnce()
        #expect(source.renews == [false, false])

        source.failing.withLock { $0 = true }
        await agent.republishAll()  // forced: renews, and fails
        #expect(source.renews.last == true)
        source.failing.withLock { $0 = false }
        await agent.heartbeat()  // the failed renewal is made up for
        #expect(source.renews.suffix(2) == [true, true])
        await agent.heartbeat()  // nothing changed: no call
        #expect(source.renews.count == 4)
    }
}

/// Passes everything to an ``InMemoryAgentSource`` and records the `renew` flag of each heartbeat;
/// heartbeats fail while `failing`.
private final class RenewRecordingSource: AgentSource {
    let inner: InMemoryAgentSource
    let failing = Mutex(false)
    private let log = Mutex<[Bool]>([])
    var renews: [Bool] { log.withLock { $0 } }

    init(_ inner: InMemoryAgentSource) { self.inner = inner }

    func desiredUnits(for machine: MachineState) async throws -> [DesiredUnit] {
        try await inner.desiredUnits(for: machine)
    }
    func publish(_ states: [PublishedUnitState]) async throws { try await inner.publish(states) }
    func heartbeat(launched units: [String]) async throws { try await heartbeat(launched: units, renew: true) }
    func heartbeat(launched units: [String], renew: Bool) async throws {
        log.withLock { $0.append(renew) }
        if failing.withLock({ $0 }) { throw AgentSourceError.unavailable("injected") }
        try await inner.heartbeat(launched: units)
    }
    func changes() async -> AsyncStream<Void> { await inner.changes() }
}
