import Testing

@testable import Fleet

/// Every planning case of ``AgentReconciler``: what a pass does for each difference between the
/// desired units and the local state, and in which order.
@Suite struct AgentReconcilerTests {
    typealias F = AgentFixtures

    private func summary(_ tasks: [AgentTask]) -> [String] {
        tasks.map { task in task.unit.map { "\(task.kind) \($0)" } ?? "\(task.kind)" }
    }

    @Test func nothingToDoWhenInStep() throws {
        let current = LocalUnitState(loaded: ["a.service": try F.hash(), "b.service": try F.hash()], launched: ["a.service"])
        let tasks = AgentReconciler.plan(
            desired: [try F.desired("a.service", .launched), try F.desired("b.service", .loaded)], current: current)
        #expect(tasks.isEmpty)
    }

    @Test func newLaunchedUnitIsLoadedReloadedStarted() throws {
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service")], current: LocalUnitState())
        #expect(summary(tasks) == ["LoadUnit a.service", "ReloadUnitFiles", "StartUnit a.service"])
        #expect(tasks[0].reason.description == "unit scheduled here but not loaded")
        #expect(tasks[0].desired?.hash == (try F.hash()))
    }

    @Test func newLoadedUnitIsOnlyLoaded() throws {
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service", .loaded)], current: LocalUnitState())
        #expect(summary(tasks) == ["LoadUnit a.service", "ReloadUnitFiles"])
    }

    @Test func removedUnitIsUnloaded() throws {
        let current = LocalUnitState(loaded: ["gone.service": try F.hash()], launched: ["gone.service"])
        let tasks = AgentReconciler.plan(desired: [], current: current)
        #expect(summary(tasks) == ["UnloadUnit gone.service", "ReloadUnitFiles"])
        #expect(tasks[0].reason.description == "unit loaded but not scheduled here")
    }

    @Test func hashChangeUnloadsLoadsAndRestartsALaunchedUnit() throws {
        let current = LocalUnitState(loaded: ["a.service": try F.hash("old")], launched: ["a.service"])
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service")], current: current)
        #expect(summary(tasks) == ["UnloadUnit a.service", "LoadUnit a.service", "ReloadUnitFiles", "StartUnit a.service"])
        #expect(tasks[0].reason.description == "unit loaded but hash differs to expected")
        #expect(tasks[1].reason == .hashDiffers)
    }

    @Test func hashChangeOfALoadedUnitDoesNotStartIt() throws {
        let current = LocalUnitState(loaded: ["a.service": try F.hash("old")])
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service", .loaded)], current: current)
        #expect(summary(tasks) == ["UnloadUnit a.service", "LoadUnit a.service", "ReloadUnitFiles"])
    }

    @Test func unknownHashCountsAsDifferent() throws {
        let current = LocalUnitState(files: ["a.service": .init(hash: nil)])
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service", .loaded)], current: current)
        #expect(summary(tasks) == ["UnloadUnit a.service", "LoadUnit a.service", "ReloadUnitFiles"])
    }

    @Test func loadedToLaunchedOnlyStarts() throws {
        let current = LocalUnitState(loaded: ["a.service": try F.hash()])
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service", .launched)], current: current)
        #expect(summary(tasks) == ["StartUnit a.service"])
        #expect(tasks[0].reason.description == "unit currently loaded but desired state is launched")
    }

    @Test func launchedToLoadedOnlyStops() throws {
        let current = LocalUnitState(loaded: ["a.service": try F.hash()], launched: ["a.service"])
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service", .loaded)], current: current)
        #expect(summary(tasks) == ["StopUnit a.service"])
        #expect(tasks[0].reason == .desiredLoaded)
    }

    @Test func inactiveEntriesCountAsNotDesired() throws {
        let current = LocalUnitState(loaded: ["a.service": try F.hash()], launched: ["a.service"])
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service", .inactive)], current: current)
        #expect(summary(tasks) == ["UnloadUnit a.service", "ReloadUnitFiles"])
    }

    @Test func pendingReloadIsReplayedWithoutFileChanges() throws {
        let current = LocalUnitState(loaded: ["a.service": try F.hash()], reloadPending: true)
        let tasks = AgentReconciler.plan(desired: [try F.desired("a.service")], current: current)
        #expect(summary(tasks) == ["ReloadUnitFiles", "StartUnit a.service"])
    }

    @Test func globalOrderingIsByKindThenNameWithOneReload() throws {
        let current = LocalUnitState(
            loaded: [
                "z-old.service": try F.hash(), "a-old.service": try F.hash(), "m.service": try F.hash("old"),
                "s.service": try F.hash(),
            ],
            launched: ["m.service", "s.service"])
        let desired = [
            try F.desired("s.service", .loaded), try F.desired("m.service"), try F.desired("c-new.service"),
            try F.desired("b-new.service", .loaded),
        ]
        let tasks = AgentReconciler.plan(desired: desired, current: current)
        #expect(
            summary(tasks) == [
                "UnloadUnit a-old.service", "UnloadUnit m.service", "UnloadUnit z-old.service",
                "LoadUnit b-new.service", "LoadUnit c-new.service", "LoadUnit m.service",
                "ReloadUnitFiles",
                "StopUnit s.service",
                "StartUnit c-new.service", "StartUnit m.service",
            ])
        #expect(tasks.filter { $0.kind == .reloadUnitFiles }.count == 1)
    }

    @Test func globalUnitsRunWhereMetadataMatches() throws {
        let global = try F.unit("mon.service", extra: "[X-Fleet]\nGlobal=true\nMachineMetadata=role=web\n")
        let dbOnly = try F.unit("db-agent.service", extra: "[X-Fleet]\nGlobal=true\nMachineMetadata=role=db\n")
        let scheduled = try F.unit("app.service")
        let elsewhere = try F.unit("other.service")
        let desired = DesiredUnit.toRun(
            on: F.machine, units: [global, dbOnly, scheduled, elsewhere],
            schedule: ["app.service": F.machine.id, "other.service": "m2"])
        #expect(desired.map(\.name) == ["app.service", "mon.service"])
        let tasks = AgentReconciler.plan(desired: desired, current: LocalUnitState())
        #expect(
            summary(tasks) == [
                "LoadUnit app.service", "LoadUnit mon.service", "ReloadUnitFiles", "StartUnit app.service",
                "StartUnit mon.service",
            ])
    }

    @Test func purgeUnloadsEverything() throws {
        let current = LocalUnitState(loaded: ["b.service": try F.hash(), "a.service": try F.hash()], launched: ["a.service"])
        let tasks = AgentReconciler.purge(current: current)
        #expect(summary(tasks) == ["UnloadUnit a.service", "UnloadUnit b.service", "ReloadUnitFiles"])
        #expect(tasks.allSatisfy { $0.reason.description == "purging agent" })
        #expect(AgentReconciler.purge(current: LocalUnitState()).isEmpty)
    }
}
