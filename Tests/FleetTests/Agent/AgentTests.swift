import Logging
import Testing

@testable import Fleet

/// ``Agent`` end to end on ``InMemoryUnitManager`` and ``InMemoryAgentSource``: passes, adoption of
/// existing units, event-driven publishing, store outages and purge.
@Suite struct AgentTests {
    typealias F = AgentFixtures

    func makeAgent(
        _ units: any UnitManager, _ source: InMemoryAgentSource,
        configuration: AgentConfiguration = AgentConfiguration(reconcileInterval: .seconds(60), republishInterval: .seconds(60))
    ) -> Agent {
        Agent(machine: F.machine, source: source, units: units, configuration: configuration, logger: F.quiet)
    }

    /// Polls `condition` every 5 ms for up to 30 s (only for the ``Agent/run()`` tests, whose loops are
    /// concurrent by nature). It returns as soon as the condition holds: the bound only decides how
    /// long a broken agent takes to fail, and must not fail a correct one on a loaded machine.
    func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<6000 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    @Test func passLoadsStartsAndPublishes() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource(
            units: [try F.unit("a.service"), try F.unit("b.service", .loaded), try F.unit("c.service")],
            schedule: ["a.service": F.machine.id, "b.service": F.machine.id, "c.service": "elsewhere"])
        let agent = makeAgent(units, source)
        let result = try #require(await agent.reconcileOnce())
        #expect(result.succeeded)
        #expect(F.byReload(units.operations) == F.byReload(["load a.service", "load b.service", "reload", "start a.service"]))
        let published = source.published
        #expect(published.keys.sorted() == ["a.service", "b.service"])
        #expect(published["a.service"]?.activeState == "active")
        #expect(published["a.service"]?.unitHash == (try F.hash()).hex)
        #expect(published["a.service"]?.machineState?.id == F.machine.id)
        #expect(published["b.service"]?.activeState == "inactive")
        #expect(published["b.service"]?.loadState == "loaded")

        // A second pass with nothing to do touches neither systemd nor the store.
        let batches = source.publishLog.count
        #expect(try #require(await agent.reconcileOnce()).executed.isEmpty)
        #expect(units.operations.count == 4)
        #expect(source.publishLog.count == batches)
    }

    @Test func changesOfTheDesiredStateAreApplied() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let agent = makeAgent(units, source)
        await agent.reconcileOnce()

        // Contents changed: unload (stop first), load, reload, start again.
        source.set(units: [try F.unit("a.service", marker: "false")], schedule: ["a.service": F.machine.id])
        await agent.reconcileOnce()
        #expect(
            Array(units.operations.dropFirst(3)) == [
                "stop a.service", "unload a.service", "load a.service", "reload", "start a.service",
            ])
        #expect(source.published["a.service"]?.unitHash == (try F.hash("false")).hex)

        // launched → loaded: stop only.
        source.set(units: [try F.unit("a.service", .loaded, marker: "false")], schedule: ["a.service": F.machine.id])
        await agent.reconcileOnce()
        #expect(units.operations.last == "stop a.service")
        #expect(source.published["a.service"]?.activeState == "inactive")

        // Unscheduled: unloaded and its state deleted.
        source.set(units: [try F.unit("a.service", .loaded, marker: "false")], schedule: [:])
        await agent.reconcileOnce()
        #expect(try await units.units().isEmpty)
        #expect(source.published.isEmpty)
        #expect(source.publishLog.last == [PublishedUnitState(unit: "a.service", record: nil)])
    }

    @Test func startAdoptsExistingUnitsAndCleansStaleOnes() async throws {
        let units = InMemoryUnitManager()
        // What a previous fleetd left behind: a running desired unit, a stale one, a changed one.
        try await units.load("keep.service", contents: F.text())
        try await units.load("stale.service", contents: F.text())
        try await units.load("changed.service", contents: F.text("old"))
        try await units.reloadUnitFiles()
        try await units.triggerStart("keep.service")
        try await units.triggerStart("stale.service")
        let before = units.operations.count

        let source = InMemoryAgentSource(
            units: [try F.unit("keep.service"), try F.unit("changed.service")],
            schedule: ["keep.service": F.machine.id, "changed.service": F.machine.id])
        let agent = makeAgent(units, source)
        try await agent.start()
        let adopted = await agent.local
        #expect(adopted.loadedUnits == ["changed.service", "keep.service", "stale.service"])
        #expect(adopted.launched == ["keep.service", "stale.service"])
        #expect(adopted.files["keep.service"]?.hash == (try F.hash()))
        #expect(!adopted.reloadPending)

        await agent.reconcileOnce()
        let pass = Array(units.operations.dropFirst(before))
        #expect(
            F.byReload(pass) == F.byReload([
                "stop changed.service", "unload changed.service", "stop stale.service", "unload stale.service",
                "load changed.service", "reload", "start changed.service",
            ]))
        #expect(F.happened("stop stale.service", before: "unload stale.service", in: pass))
        #expect(F.happened("unload changed.service", before: "load changed.service", in: pass))
        #expect(try await units.units() == ["changed.service", "keep.service"])
        #expect(try await units.unitStates(["keep.service"])["keep.service"]?.activeState == .active)
    }

    @Test func storeUnavailableKeepsUnitsRunning() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let agent = makeAgent(units, source)
        await agent.reconcileOnce()
        let before = units.operations

        source.setAvailable(false)
        let result = try #require(await agent.reconcileOnce())
        guard case .sourceUnavailable = result.failures.first else {
            Issue.record("expected sourceUnavailable, got \(result.failures)")
            return
        }
        #expect(units.operations == before)
        #expect(try await units.unitStates(["a.service"])["a.service"]?.activeState == .active)

        // A state change while the store is down is kept and published once it is back.
        await agent.handle(.stateChanged(UnitStateChange(unit: "a.service", activeState: .failed, subState: "failed")))
        #expect(source.published["a.service"]?.activeState == "active")
        source.setAvailable(true)
        await agent.reconcileOnce()
        #expect(units.operations == before)
        #expect(source.published["a.service"]?.activeState == "failed")
    }

    @Test func eventsArePublishedOnlyWhenTheyChangeSomething() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource(
            units: [try F.unit("a.service"), try F.unit("b.service")],
            schedule: ["a.service": F.machine.id, "b.service": F.machine.id])
        let agent = makeAgent(units, source)
        await agent.reconcileOnce()
        let batches = source.publishLog.count

        // Same state again, a unit that is not ours, a job result: nothing to publish.
        await agent.handle(.stateChanged(UnitStateChange(unit: "a.service", activeState: .active, subState: "running")))
        await agent.handle(.stateChanged(UnitStateChange(unit: "sshd.service", activeState: .failed)))
        await agent.handle(.jobRemoved(JobRemoval(id: 9, job: "/j/9", unit: "a.service", result: .done)))
        #expect(source.publishLog.count == batches)

        // A real change: one batch holding just that unit, the other fields kept.
        await agent.handle(.stateChanged(UnitStateChange(unit: "a.service", activeState: .failed, subState: "failed")))
        #expect(source.publishLog.count == batches + 1)
        let last = try #require(source.publishLog.last)
        #expect(last.map(\.description) == ["a.service: loaded/failed/failed"])

        // The full republish writes everything, even unchanged.
        await agent.republishAll()
        #expect(source.publishLog.last?.map(\.unit) == ["a.service", "b.service"])
    }

    @Test func purgeStopsAndUnloadsEveryUnit() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource(
            units: [try F.unit("a.service"), try F.unit("b.service", .loaded)],
            schedule: ["a.service": F.machine.id, "b.service": F.machine.id])
        let agent = makeAgent(
            units, source, configuration: AgentConfiguration(purgeRounds: 3, purgePause: .milliseconds(1)))
        await agent.reconcileOnce()
        let before = units.operations.count
        let left = await agent.purge()
        #expect(left.isEmpty)
        let purged = Array(units.operations.dropFirst(before))
        #expect(
            F.byReload(purged) == F.byReload([
                "stop a.service", "unload a.service", "stop b.service", "unload b.service", "reload",
            ]))
        #expect(F.happened("stop a.service", before: "unload a.service", in: purged))
        #expect(F.happened("stop b.service", before: "unload b.service", in: purged))
        #expect(source.published.isEmpty)
    }

    @Test func purgeRetriesInRounds() async throws {
        let units = FailingUnitManager()
        let source = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let agent = makeAgent(
            units, source, configuration: AgentConfiguration(purgeRounds: 2, purgePause: .milliseconds(1)))
        await agent.reconcileOnce()
        units.fail("stop a.service")
        #expect(await agent.purge() == ["a.service"])
        #expect(units.operations.filter { $0 == "unload a.service" }.isEmpty)
        units.heal()
        #expect(await agent.purge().isEmpty)
    }

    @Test func runReconcilesOnChangesAndPublishesEvents() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource()
        let agent = makeAgent(units, source)
        let running = Task { await agent.run() }
        defer { running.cancel() }

        // Wait for the first (empty) pass, then schedule a unit: the change notification triggers a pass.
        #expect(await eventually { source.desiredReads >= 1 })
        source.set(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        #expect(await eventually { source.published["a.service"]?.activeState == "active" })

        // Someone stops the unit by hand: systemd's event is published without any pass.
        let reads = source.desiredReads
        try await units.triggerStop("a.service")
        #expect(await eventually { source.published["a.service"]?.activeState == "inactive" })
        #expect(source.desiredReads == reads)

        running.cancel()
        await running.value
    }
}

extension AgentTests {
    @Test func passesAfterAPurgeDoNothing() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let agent = makeAgent(units, source, configuration: AgentConfiguration(purgeRounds: 1))
        await agent.reconcileOnce()
        #expect(await agent.purge().isEmpty)
        let after = units.operations
        await agent.reconcileOnce()
        #expect(units.operations == after)
        #expect(try await units.units().isEmpty)
    }
}

extension AgentTests {
    @Test func launchedUnitsAreHeartbeated() async throws {
        let units = InMemoryUnitManager()
        let source = InMemoryAgentSource(
            units: [try F.unit("a.service"), try F.unit("b.service", .loaded)],
            schedule: ["a.service": F.machine.id, "b.service": F.machine.id])
        let agent = makeAgent(units, source)
        await agent.reconcileOnce()
        #expect(source.heartbeats == ["a.service"])
        #expect(source.heartbeatCalls == 1)

        // Unchanged set: no heartbeat on a pass, but one on every full republish.
        await agent.reconcileOnce()
        #expect(source.heartbeatCalls == 1)
        await agent.republishAll()
        #expect(source.heartbeatCalls == 2)

        // A failed heartbeat is retried by the next pass even with nothing to do.
        source.setAvailable(false)
        await agent.heartbeat(force: true)
        #expect(source.heartbeatCalls == 2)
        source.setAvailable(true)
        await agent.reconcileOnce()
        #expect(source.heartbeatCalls == 3)

        // launched → loaded and loaded → launched: the heartbeat follows.
        source.set(
            units: [try F.unit("a.service", .loaded), try F.unit("b.service")],
            schedule: ["a.service": F.machine.id, "b.service": F.machine.id])
        await agent.reconcileOnce()
        #expect(source.heartbeats == ["b.service"])
    }
}

extension AgentTests {
    @Test func storeDownAtStartUnloadsNothing() async throws {
        let units = InMemoryUnitManager()
        try await units.load("a.service", contents: F.text())
        try await units.reloadUnitFiles()
        try await units.triggerStart("a.service")
        let before = units.operations
        let source = InMemoryAgentSource()
        source.setAvailable(false)
        let agent = makeAgent(units, source)
        let result = try #require(await agent.reconcileOnce())
        #expect(!result.succeeded)
        #expect(units.operations == before)
        #expect(await agent.local.launched == ["a.service"])
        #expect(try await units.unitStates(["a.service"])["a.service"]?.activeState == .active)
    }

    @Test func systemdDownAtStartIsRetried() async throws {
        let units = FailingUnitManager()
        let source = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let agent = makeAgent(units, source)
        units.fail("units")
        let failed = try #require(await agent.reconcileOnce())
        guard case .systemdUnavailable = failed.failures.first else {
            Issue.record("expected systemdUnavailable, got \(failed.failures)")
            return
        }
        #expect(source.desiredReads == 0)
        units.heal()
        #expect(try #require(await agent.reconcileOnce()).succeeded)
        #expect(units.operations == ["load a.service", "reload", "start a.service"])
    }

    @Test func runResubscribesWhenTheEventStreamEnds() async throws {
        let units = FailingUnitManager()
        units.droppedStreams.withLock { $0 = 2 }
        let source = InMemoryAgentSource(units: [try F.unit("a.service")], schedule: ["a.service": F.machine.id])
        let agent = makeAgent(
            units, source,
            configuration: AgentConfiguration(
                reconcileInterval: .seconds(60), republishInterval: .seconds(60), resubscribeDelay: .milliseconds(1)))
        let running = Task { await agent.run() }
        defer { running.cancel() }
        #expect(await eventually { source.published["a.service"]?.activeState == "active" })
        #expect(await eventually { units.droppedStreams.withLock { $0 } == 0 })
        try? await Task.sleep(for: .milliseconds(20))  // let the third subscription settle
        try await units.inner.triggerStop("a.service")
        #expect(await eventually { source.published["a.service"]?.activeState == "inactive" })
        running.cancel()
        await running.value
    }
}
