import Synchronization
import Testing

@testable import Fleet

/// ``AgentExecutor`` issues the tasks of one kind concurrently (bounded) and still records exactly
/// what succeeded, so a failure among many concurrent starts is retried alone on the next pass.
@Suite struct AgentExecutorConcurrencyTests {
    typealias F = AgentFixtures

    /// Holds each start until `gate` starts are in flight together (or 30 s after the manager was made,
    /// one deadline for all calls, so a sequential executor fails the test instead of hanging; a
    /// correct one never waits for it, however loaded the machine), counting the most in flight at once.
    final class GatedUnitManager: UnitManager {
        let inner = FailingUnitManager()
        let gate: Int
        private let counts = Mutex((now: 0, most: 0))
        let deadline = ContinuousClock.now + .seconds(30)
        init(gate: Int) { self.gate = gate }
        var mostInFlight: Int { counts.withLock { $0.most } }

        func triggerStart(_ name: String) async throws {
            counts.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            defer { counts.withLock { $0.now -= 1 } }
            while counts.withLock({ $0.most < gate }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            try await inner.triggerStart(name)
        }
        func load(_ name: String, contents: String) async throws { try await inner.load(name, contents: contents) }
        func unload(_ name: String) async throws { try await inner.unload(name) }
        func reloadUnitFiles() async throws { try await inner.reloadUnitFiles() }
        func triggerStop(_ name: String) async throws { try await inner.triggerStop(name) }
        func units() async throws -> [String] { try await inner.units() }
        func unitStates(_ names: [String]) async throws -> [String: UnitState] { try await inner.unitStates(names) }
        func events() async throws -> AsyncThrowingStream<UnitEvent, any Error> { try await inner.events() }
    }

    static func names(_ count: Int) -> [String] { (1...count).map { "u" + ($0 < 10 ? "0" : "") + "\($0).service" } }

    @Test func startsGoOutTogetherAndAFailedOneIsRecordedAlone() async throws {
        let units = GatedUnitManager(gate: 12)
        let executor = AgentExecutor(units: units, logger: F.quiet)
        units.inner.fail("start u05.service")
        let desired = try Self.names(12).map { try F.desired($0) }
        var state = LocalUnitState()
        let result = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(units.mostInFlight == 12)
        #expect(result.failures.count == 1)
        #expect("\(result.failures[0])".contains("StartUnit u05.service"))
        // Loads, the reload and the other 11 starts succeeded and are recorded; u05 is not launched.
        #expect(result.executed.filter { $0.kind == .start }.compactMap(\.unit) == Self.names(12).filter { $0 != "u05.service" })
        #expect(state.launched == Set(Self.names(12).filter { $0 != "u05.service" }))
        #expect(state.loadedUnits == Self.names(12))
        #expect(!state.reloadPending)
        // The next pass retries exactly the failed start.
        units.inner.heal()
        let retry = AgentReconciler.plan(desired: desired, current: state)
        #expect(retry.map(\.description) == ["StartUnit u05.service: unit currently loaded but desired state is launched"])
    }

    @Test func concurrencyIsBounded() async throws {
        let units = GatedUnitManager(gate: 4)
        let executor = AgentExecutor(units: units, logger: F.quiet, concurrency: 4)
        let desired = try Self.names(20).map { try F.desired($0) }
        var state = LocalUnitState()
        let result = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(result.succeeded)
        #expect(units.mostInFlight == 4)
        #expect(state.launched.count == 20)
    }

    @Test func aFailedStopKeepsItsUnitLoadedWhileTheOtherUnloadsProceed() async throws {
        let units = FailingUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        var state = LocalUnitState()
        let desired = try Self.names(6).map { try F.desired($0) }
        _ = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        units.fail("stop u03.service")
        let result = await executor.execute(AgentReconciler.plan(desired: [], current: state), state: &state)
        #expect(result.failures.count == 1)
        // fleet #1216: never unloaded after a refused stop; the others are gone, and no reload ran
        // because the unload kind failed.
        #expect(!units.operations.contains("unload u03.service"))
        #expect(state.loadedUnits == ["u03.service"])
        #expect(state.launched == ["u03.service"])
        #expect(state.reloadPending)
        #expect(try await units.units() == ["u03.service"])
    }
}

/// Publishing many unit states: slices of ``Agent/publishSlice`` go to the source concurrently, and
/// a slice that fails is the only one published again.
@Suite struct AgentConcurrentPublishTests {
    typealias F = AgentFixtures

    /// An ``InMemoryAgentSource`` whose publish waits until `gate` calls have been in flight together
    /// (so the test sees the slices overlap without betting on a wall-clock window; at most 30 s) and
    /// refuses any slice holding one chosen unit until healed.
    final class SlowSource: AgentSource {
        let inner: InMemoryAgentSource
        private let counts = Mutex((now: 0, most: 0, refusing: Optional<String>.none))
        let gate: Int
        /// One deadline for all calls: publishes that are not concurrent fail the test in 30 s, not 30 s each.
        let deadline = ContinuousClock.now + .seconds(30)
        init(_ inner: InMemoryAgentSource, gate: Int) {
            self.inner = inner
            self.gate = gate
        }
        var mostInFlight: Int { counts.withLock { $0.most } }
        func refuse(_ unit: String?) { counts.withLock { $0.refusing = unit } }

        func publish(_ states: [PublishedUnitState]) async throws {
            let refusing = counts.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
                return $0.refusing
            }
            defer { counts.withLock { $0.now -= 1 } }
            while counts.withLock({ $0.most }) < gate && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            if let refusing, states.contains(where: { $0.unit == refusing }) {
                throw AgentSourceError.unavailable("test refuses \(refusing)")
            }
            try await inner.publish(states)
        }
        func desiredUnits(for machine: MachineState) async throws -> [DesiredUnit] {
            try await inner.desiredUnits(for: machine)
        }
        func heartbeat(launched units: [String]) async throws { try await inner.heartbeat(launched: units) }
        func changes() async -> AsyncStream<Void> { await inner.changes() }
    }

    @Test func manyStatesArePublishedInConcurrentSlicesAndAFailedSliceIsRetriedAlone() async throws {
        let names = (1...100).map { "p" + ($0 < 10 ? "00" : $0 < 100 ? "0" : "") + "\($0).service" }
        let inner = InMemoryAgentSource(
            units: try names.map { try F.unit($0) }, schedule: Dictionary(uniqueKeysWithValues: names.map { ($0, F.machine.id) }))
        let slices = (names.count + Agent.publishSlice - 1) / Agent.publishSlice
        let source = SlowSource(inner, gate: slices)
        source.refuse("p050.service")
        let agent = Agent(
            machine: F.machine, source: source, units: InMemoryUnitManager(),
            configuration: AgentConfiguration(reconcileInterval: .seconds(60), republishInterval: .seconds(60)),
            logger: F.quiet)
        await agent.reconcileOnce()
        // 100 states in slices of 4: 25 calls, all at once; the slice with p050 failed.
        #expect(Agent.publishSlice == 4)
        #expect(source.mostInFlight == slices)
        let sliceOf50 = Set(names[48..<52])
        #expect(Set(inner.published.keys) == Set(names).subtracting(sliceOf50))
        #expect(Set(await agent.published.keys) == Set(names).subtracting(sliceOf50))

        source.refuse(nil)
        let calls = inner.publishLog.count
        await agent.publishChanges()
        #expect(inner.publishLog.count == calls + 1)
        #expect(Set(inner.publishLog.last?.map(\.unit) ?? []) == sliceOf50)
        #expect(Set(inner.published.keys) == Set(names))
    }
}
