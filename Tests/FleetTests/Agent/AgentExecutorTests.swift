import Testing

@testable import Fleet

/// ``AgentExecutor``: tasks reach systemd in plan order with one daemon-reload, a failure ends the
/// pass, and the recorded state lets the next pass retry exactly what did not happen.
@Suite struct AgentExecutorTests {
    typealias F = AgentFixtures

    @Test func executesInOrderWithOneReload() async throws {
        let units = InMemoryUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        var state = LocalUnitState()
        let desired = [try F.desired("b.service"), try F.desired("a.service"), try F.desired("c.service", .loaded)]
        let result = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(result.succeeded)
        #expect(
            F.byReload(units.operations) == F.byReload([
                "load a.service", "load b.service", "load c.service", "reload", "start a.service", "start b.service",
            ]))
        #expect(state.loadedUnits == ["a.service", "b.service", "c.service"])
        #expect(state.launched == ["a.service", "b.service"])
        #expect(!state.reloadPending)
        #expect(units.contents(of: "a.service") == F.text())
        // In step now: the next plan is empty.
        #expect(AgentReconciler.plan(desired: desired, current: state).isEmpty)
    }

    @Test func unloadStopsFirst() async throws {
        let units = InMemoryUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        var state = LocalUnitState()
        _ = await executor.execute(AgentReconciler.plan(desired: [try F.desired("a.service")], current: state), state: &state)
        let result = await executor.execute(AgentReconciler.plan(desired: [], current: state), state: &state)
        #expect(result.succeeded)
        #expect(Array(units.operations.suffix(3)) == ["stop a.service", "unload a.service", "reload"])
        #expect(state == LocalUnitState())
    }

    @Test func unloadOfAUnitSystemdDoesNotKnowStillRemovesTheFile() async throws {
        let units = InMemoryUnitManager()
        try await units.load("stale.service", contents: F.text())  // never reloaded: systemd says not-found
        var state = LocalUnitState(loaded: ["stale.service": try F.hash()])
        let result = await AgentExecutor(units: units, logger: F.quiet).execute(
            AgentReconciler.plan(desired: [], current: state), state: &state)
        #expect(result.succeeded)
        #expect(try await units.units().isEmpty)
    }

    @Test func failedStopKeepsTheUnitLoaded() async throws {
        let units = FailingUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        var state = LocalUnitState()
        _ = await executor.execute(AgentReconciler.plan(desired: [try F.desired("a.service")], current: state), state: &state)
        units.fail("stop a.service")
        let result = await executor.execute(AgentReconciler.plan(desired: [], current: state), state: &state)
        #expect(!result.succeeded)
        guard case .taskFailed(let task, _) = result.failures.first else {
            Issue.record("expected a task failure, got \(result.failures)")
            return
        }
        #expect(task.kind == .unload)
        #expect(!units.operations.contains("unload a.service"))  // fleet #1216
        #expect(state.launched.contains("a.service"))
        #expect(try await units.units() == ["a.service"])
        units.heal()
        let retry = await executor.execute(AgentReconciler.plan(desired: [], current: state), state: &state)
        #expect(retry.succeeded)
        #expect(try await units.units().isEmpty)
    }

    @Test func failureMidPlanEndsThePassAfterThatKindAndTheNextPassRetries() async throws {
        let units = FailingUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        var state = LocalUnitState()
        let desired = [try F.desired("a.service"), try F.desired("b.service"), try F.desired("c.service")]
        units.fail("load b.service")
        let first = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        // The other loads went out with b's; no reload or start followed the failed kind.
        #expect(first.executed.map(\.description) == [
            "LoadUnit a.service: unit scheduled here but not loaded",
            "LoadUnit c.service: unit scheduled here but not loaded",
        ])
        #expect(first.failures.count == 1)
        #expect("\(first.failures[0])".contains("LoadUnit b.service"))
        #expect("\(first.failures[0])".contains("retrying on the next one"))
        #expect(units.operations.sorted() == ["load a.service", "load c.service"])
        #expect(state.loadedUnits == ["a.service", "c.service"])
        #expect(state.reloadPending)  // a and c still need the reload that never came

        // Still failing: the pass retries b and stops again; a and c are not loaded twice.
        _ = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(units.operations.sorted() == ["load a.service", "load c.service"])

        units.heal()
        let third = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(third.succeeded)
        #expect(
            F.byReload(units.operations) == F.byReload([
                "load a.service", "load b.service", "load c.service", "reload", "start a.service", "start b.service",
                "start c.service",
            ]))
        #expect(state.launched == ["a.service", "b.service", "c.service"])
    }

    @Test func failedReloadIsRetriedBeforeStarts() async throws {
        let units = FailingUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        var state = LocalUnitState()
        let desired = [try F.desired("a.service")]
        units.fail("reload")
        _ = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        #expect(units.operations == ["load a.service"])
        #expect(state.reloadPending && state.launched.isEmpty)
        units.heal()
        let tasks = AgentReconciler.plan(desired: desired, current: state)
        #expect(tasks.map(\.kind) == [.reloadUnitFiles, .start])
        #expect(await executor.execute(tasks, state: &state).succeeded)
        #expect(units.operations == ["load a.service", "reload", "start a.service"])
    }

    @Test func purgeContinuesPastFailures() async throws {
        let units = FailingUnitManager()
        let executor = AgentExecutor(units: units, logger: F.quiet)
        var state = LocalUnitState()
        let desired = [try F.desired("a.service"), try F.desired("b.service")]
        _ = await executor.execute(AgentReconciler.plan(desired: desired, current: state), state: &state)
        units.fail("stop a.service")
        let result = await executor.execute(AgentReconciler.purge(current: state), state: &state, continueOnFailure: true)
        #expect(result.failures.count == 1)
        #expect(state.loadedUnits == ["a.service"])
        #expect(try await units.units() == ["a.service"])
    }
}
