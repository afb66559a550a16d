import Testing

@testable import Fleet

@Suite struct InMemoryUnitManagerTests {
    @Test func behavesLikeSystemdForTheAgent() async throws {
        let units: any UnitManager = InMemoryUnitManager()
        try await units.load("web.service", contents: "[Service]\nExecStart=/bin/true\n")
        #expect(try await units.unitStates(["web.service"])["web.service"]?.loadState == .notFound)
        try await units.reloadUnitFiles()
        #expect(try await units.unitStates(["web.service"])["web.service"]?.loadState == .loaded)

        let events = try await units.events()
        try await units.triggerStart("web.service")
        var iterator = events.makeAsyncIterator()
        #expect(
            try await iterator.next()
                == .stateChanged(
                    UnitStateChange(unit: "web.service", loadState: .loaded, activeState: .active, subState: "running")))
        guard case .jobRemoved(let removal) = try await iterator.next() else {
            Issue.record("no job removal")
            return
        }
        #expect(removal.result == .done)
        #expect(
            try await units.unitStates(["web.service", "other.service"]) == [
                "web.service": UnitState(loadState: .loaded, activeState: .active, subState: "running"),
                "other.service": UnitState(loadState: .notFound, activeState: .inactive, subState: "dead"),
            ])

        await #expect(throws: SystemdError.self) { try await units.triggerStart("other.service") }
        try await units.unload("web.service")
        #expect(try await units.units().isEmpty)
    }

    @Test func injectedFailuresAndMalformedUnits() async throws {
        let fake = InMemoryUnitManager()
        try await fake.load("bad.service", contents: "nonsense")
        try await fake.load("ok.service", contents: "[Service]\nExecStart=/bin/true\n")
        try await fake.reloadUnitFiles()
        #expect(try await fake.unitStates(["bad.service"])["bad.service"]?.loadState == .badSetting)
        fake.fail("ok.service")
        try await fake.triggerStart("ok.service")
        #expect(try await fake.unitStates(["ok.service"])["ok.service"]?.activeState == .failed)
        #expect(fake.operations == ["load bad.service", "load ok.service", "reload", "start ok.service"])
    }
}
