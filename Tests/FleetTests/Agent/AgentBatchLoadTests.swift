import Synchronization
import Testing

@testable import Fleet

/// A pass loads its new unit files with one ``UnitManager/load(batch:)`` (on systemd one
/// `LinkUnitFiles` for all of them), and a unit whose load fails in the batch fails alone.
@Suite struct AgentBatchLoadTests {
    typealias F = AgentFixtures

    /// Records the size of every batch load and loads each unit through ``FailingUnitManager``.
    final class BatchRecordingUnitManager: UnitManager {
        let inner = FailingUnitManager()
        private let recorded = Mutex([Int]())
        var batches: [Int] { recorded.withLock { $0 } }

        func load(batch units: [UnitFileToLoad]) async -> [(any Error)?] {
            recorded.withLock { $0.append(units.count) }
            var errors: [(any Error)?] = []
            for unit in units {
                do {
                    try await inner.load(unit.name, contents: unit.contents)
                    errors.append(nil)
                } catch {
                    errors.append(error)
                }
            }
            return errors
        }
        func load(_ name: String, contents: String) async throws { try await inner.load(name, contents: contents) }
        func unload(_ name: String) async throws { try await inner.unload(name) }
        func reloadUnitFiles() async throws { try await inner.reloadUnitFiles() }
        func triggerStart(_ name: String) async throws { try await inner.triggerStart(name) }
        func triggerStop(_ name: String) async throws { try await inner.triggerStop(name) }
        func units() async throws -> [String] { try await inner.units() }
        func unitStates(_ names: [String]) async throws -> [String: UnitState] { try await inner.unitStates(names) }
        func events() async throws -> AsyncThrowingStream<UnitEvent, any Error> { try await inner.events() }
    }

    static let names = ["a.service", "b.service", "c.service", "d.service", "e.service"]

    @Test func aRunOfLoadsIsOneBatch() async throws {
        let units = BatchRecordingUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        let desired = try Self.names.map { try F.desired($0) }
        var state = LocalUnitState()
        let result = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(result.succeeded)
        #expect(units.batches == [5])
        #expect(state.loadedUnits == Self.names)
        #expect(state.launched == Set(Self.names))
    }

    @Test func aUnitThatFailsInTheBatchFailsAloneAndIsRetried() async throws {
        let units = BatchRecordingUnitManager()
        units.inner.fail("load c.service")
        let executor = AgentExecutor(units: units, logger: F.quiet)
        let desired = try Self.names.map { try F.desired($0) }
        var state = LocalUnitState()
        let result = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(result.failures.count == 1)
        #expect("\(result.failures.first.map { "\($0)" } ?? "")".contains("LoadUnit c.service"))
        // The other four are loaded and recorded; the pass ended after its loads (nothing started).
        #expect(state.loadedUnits == Self.names.filter { $0 != "c.service" })
        #expect(state.launched.isEmpty)
        units.inner.heal()
        let retry = AgentReconciler.plan(desired: desired, current: state)
        #expect(retry.filter { $0.kind == .load }.compactMap(\.unit) == ["c.service"])
    }

    /// Managers without a batch of their own (the in-memory one) load each unit as before.
    @Test func theDefaultBatchLoadsEachUnit() async throws {
        let units = InMemoryUnitManager()
        let errors = await units.load(batch: Self.names.map { UnitFileToLoad(name: $0, contents: F.text()) })
        #expect(errors.allSatisfy { $0 == nil })
        #expect(try await units.units() == Self.names)
    }
}
