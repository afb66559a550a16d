import Synchronization
import Testing

@testable import Fleet

/// How the agent takes systemd's events in: a complete state change needs no query of systemd, and
/// events keep being applied while a publish waits on the store, whose next batch then carries them
/// all. (A machine taking over a dead one's 125 units gets hundreds of events at once.)
@Suite struct AgentEventTests {
    typealias F = AgentFixtures

    /// An ``InMemoryAgentSource`` whose publish can be held (as a slow store would), counting the
    /// calls waiting. A held call waits at most until 30 s after the source was made, one deadline
    /// for all, so a broken agent fails the test instead of hanging it.
    final class HeldSource: AgentSource {
        let inner: InMemoryAgentSource
        private let state = Mutex((holding: false, waiting: 0))
        let deadline = ContinuousClock.now + .seconds(30)
        init(_ inner: InMemoryAgentSource) { self.inner = inner }
        func hold(_ on: Bool) { state.withLock { $0.holding = on } }
        var waiting: Int { state.withLock { $0.waiting } }

        func publish(_ states: [PublishedUnitState]) async throws {
            if state.withLock({ $0.holding }) {
                state.withLock { $0.waiting += 1 }
                defer { state.withLock { $0.waiting -= 1 } }
                while state.withLock({ $0.holding }) && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            try await inner.publish(states)
        }
        func desiredUnits(for machine: MachineState) async throws -> [DesiredUnit] {
            try await inner.desiredUnits(for: machine)
        }
        func heartbeat(launched units: [String]) async throws { try await inner.heartbeat(launched: units) }
        func changes() async -> AsyncStream<Void> { await inner.changes() }
    }

    /// An agent whose own timers (reconcile, republish: 60 s) never fire during a test, so only events
    /// and the passes a test triggers act.
    static func agent(_ source: any AgentSource, _ units: any UnitManager) -> Agent {
        Agent(machine: F.machine, source: source, units: units,
              configuration: AgentConfiguration(reconcileInterval: .seconds(60), republishInterval: .seconds(60)),
              logger: F.quiet)
    }

    /// Polls `condition` every 5 ms until it holds or 30 s pass (returns at once when it holds, so the
    /// bound only matters for a broken agent, however loaded the machine).
    static func eventually(_ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return await condition()
    }

    @Test func aCompleteStateChangeOfAnUnknownUnitNeedsNoQuery() async throws {
        let units = FailingUnitManager()
        let source = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let agent = Self.agent(source, units)
        // systemd answers no query: the pass loads and starts a.service but cannot read its state back.
        units.fail("unitStates")
        #expect(try #require(await agent.reconcileOnce()).succeeded)
        #expect(await agent.systemdStates["a.service"] == nil)
        #expect(source.published["a.service"] == nil)

        // A change naming only some states needs the others from systemd, which does not answer.
        await agent.handle(.stateChanged(UnitStateChange(unit: "a.service", activeState: .active, subState: "running")))
        #expect(source.published["a.service"] == nil)

        // One naming all three (what systemd's PropertiesChanged carries) is published as it is.
        await agent.handle(.stateChanged(
            UnitStateChange(unit: "a.service", loadState: .loaded, activeState: .active, subState: "running")))
        #expect(source.published["a.service"]?.activeState == "active")
        #expect(source.published["a.service"]?.subState == "running")
        #expect(source.published["a.service"]?.loadState == "loaded")

        // Later partial changes merge into it, still without a query.
        await agent.handle(.stateChanged(UnitStateChange(unit: "a.service", activeState: .failed, subState: "failed")))
        #expect(source.published["a.service"]?.activeState == "failed")
        #expect(source.published["a.service"]?.loadState == "loaded")
    }

    @Test func eventsAreAppliedWhileAPublishWaitsAndGoOutInOneBatch() async throws {
        let units = InMemoryUnitManager()
        let names = ["a.service", "b.service", "c.service"]
        let inner = InMemoryAgentSource(
            units: try names.map { try F.unit($0) }, schedule: Dictionary(uniqueKeysWithValues: names.map { ($0, F.machine.id) }))
        let source = HeldSource(inner)
        let agent = Self.agent(source, units)
        let running = Task { await agent.run() }
        defer { running.cancel() }
        #expect(await Self.eventually { names.allSatisfy { inner.published[$0]?.activeState == "active" } })

        // The store stalls; a.service stops and its publish waits.
        source.hold(true)
        try await units.triggerStop("a.service")
        #expect(await Self.eventually { source.waiting == 1 })
        // b and c stop meanwhile: the agent follows systemd although that publish has not returned.
        try await units.triggerStop("b.service")
        try await units.triggerStop("c.service")
        #expect(await Self.eventually {
            let states = await agent.systemdStates
            return states["b.service"]?.activeState == .inactive && states["c.service"]?.activeState == .inactive
        })
        #expect(source.waiting == 1)
        #expect(inner.published["b.service"]?.activeState == "active")

        // The store answers: a's batch, then one batch with both b and c.
        let before = inner.publishLog.count
        source.hold(false)
        #expect(await Self.eventually { names.allSatisfy { inner.published[$0]?.activeState == "inactive" } })
        let after = Array(inner.publishLog.dropFirst(before))
        #expect(after.map { $0.map(\.unit) } == [["a.service"], ["b.service", "c.service"]])

        running.cancel()
        await running.value
    }

    /// An ``InMemoryUnitManager`` that counts the units asked for in ``unitStates(_:)`` and, after
    /// starting a unit, runs `afterStart` (the test hands systemd's event to the agent there, so the
    /// event is applied while the pass is still executing, as on a real machine).
    final class ReportingUnitManager: UnitManager {
        let inner = InMemoryUnitManager()
        private let state = Mutex(
            (asked: [String](), afterStart: Optional<@Sendable (String) async -> Void>.none, holding: false, silent: false))
        /// Held queries wait until released or 30 s after the manager was made (one deadline for all).
        let deadline = ContinuousClock.now + .seconds(30)
        var asked: [String] { state.withLock { $0.asked } }
        /// While held, ``unitStates(_:)`` does not answer (systemd busy running the jobs just queued).
        func hold(_ on: Bool) { state.withLock { $0.holding = on } }
        /// Silent: ``events()`` streams stay open and carry nothing (events that come late).
        func silence() { state.withLock { $0.silent = true } }
        func afterStart(_ body: @escaping @Sendable (String) async -> Void) { state.withLock { $0.afterStart = body } }

        func load(_ name: String, contents: String) async throws { try await inner.load(name, contents: contents) }
        func unload(_ name: String) async throws { try await inner.unload(name) }
        func reloadUnitFiles() async throws { try await inner.reloadUnitFiles() }
        func triggerStart(_ name: String) async throws {
            try await inner.triggerStart(name)
            if let body = state.withLock({ $0.afterStart }) { await body(name) }
        }
        func triggerStop(_ name: String) async throws { try await inner.triggerStop(name) }
        func units() async throws -> [String] { try await inner.units() }
        func unitStates(_ names: [String]) async throws -> [String: UnitState] {
            state.withLock { $0.asked += names }
            while state.withLock({ $0.holding }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            return try await inner.unitStates(names)
        }
        func events() async throws -> AsyncThrowingStream<UnitEvent, any Error> {
            if state.withLock({ $0.silent }) { return AsyncThrowingStream { _ in } }
            return try await inner.events()
        }
    }

    @Test func aPassReadsBackOnlyTheUnitsNoEventReported() async throws {
        let units = ReportingUnitManager()
        let names = ["a.service", "b.service", "c.service"]
        let source = InMemoryAgentSource(
            units: try names.map { try F.unit($0) }, schedule: Dictionary(uniqueKeysWithValues: names.map { ($0, F.machine.id) }))
        let agent = Self.agent(source, units)
        // systemd's event for a.service arrives while the pass is still starting the others; for
        // b.service only a transitional one (deactivating: not the outcome of a start); none for c.
        units.afterStart { name in
            let state: ActiveState? = name == "a.service" ? .active : name == "b.service" ? .deactivating : nil
            guard let state else { return }
            _ = await agent.apply(.stateChanged(
                UnitStateChange(unit: name, loadState: .loaded, activeState: state, subState: "x")))
        }
        #expect(try #require(await agent.reconcileOnce()).succeeded)
        #expect(units.asked.sorted() == ["b.service", "c.service"])
        // All three are published: a.service from its event, b and c as systemd answered.
        #expect(names.allSatisfy { source.published[$0]?.activeState == "active" })
        #expect(source.published["a.service"]?.subState == "x")

        // A unit whose last task was a stop counts as reported only once inactive or failed.
        #expect(await agent.reported("a.service", since: 0, after: .start))
        #expect(!(await agent.reported("a.service", since: 0, after: .stop)))
        #expect(await agent.reported("a.service", since: 0, after: .load))
        #expect(!(await agent.reported("c.service", since: 0, after: .start)))
        // An event from before the pass's mark does not count.
        let mark = await agent.eventCount
        #expect(!(await agent.reported("a.service", since: mark, after: .start)))
    }

    @Test func whileFollowingEventsAPassDoesNotWaitForItsReadBack() async throws {
        let units = ReportingUnitManager()
        units.silence()
        let source = InMemoryAgentSource(units: [], schedule: [:])
        let agent = Self.agent(source, units)
        let running = Task { await agent.run() }
        defer { running.cancel() }
        #expect(await Self.eventually { source.desiredReads > 0 })

        // systemd is slow to answer and no event comes: the pass starts a.service, heartbeats it
        // and returns while its read-back still waits.
        units.hold(true)
        source.set(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        source.notifyChanged()
        #expect(await Self.eventually { source.heartbeats.contains("a.service") && units.asked == ["a.service"] })
        #expect(source.published["a.service"] == nil)
        // The read-back answers and publishes.
        units.hold(false)
        #expect(await Self.eventually { source.published["a.service"]?.activeState == "active" })

        running.cancel()
        await running.value
    }
}
