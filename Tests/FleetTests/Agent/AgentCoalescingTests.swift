import Testing

@testable import Fleet

/// A burst of change notifications (a dead machine's units scheduled here one write after another)
/// goes into one pass instead of a pass for the first few units and another, after it, for the rest.
@Suite struct AgentCoalescingTests {
    typealias F = AgentFixtures
    let t = ContinuousClock.now

    @Test func aPassStartsOnceTheNotificationsPause() {
        let c = ChangeCoalescing(quiet: .milliseconds(25), limit: .milliseconds(250))
        #expect(c.start(first: t, last: t) == t + .milliseconds(25))
        #expect(c.start(first: t, last: t + .milliseconds(10)) == t + .milliseconds(35))
    }

    @Test func notificationsThatKeepComingWaitNoLongerThanTheLimit() {
        let c = ChangeCoalescing(quiet: .milliseconds(25), limit: .milliseconds(250))
        #expect(c.start(first: t, last: t + .milliseconds(240)) == t + .milliseconds(250))
        #expect(c.start(first: t, last: t + .seconds(5)) == t + .milliseconds(250))
    }

    /// Notifications that came while the previous pass ran are long quiet when it ends: no wait.
    @Test func notificationsFromDuringThePreviousPassStartAPassAtOnce() {
        let c = ChangeCoalescing(quiet: .milliseconds(25), limit: .milliseconds(250))
        #expect(c.start(first: t, last: t - .milliseconds(400)) < t)
        #expect(ChangeCoalescing.none.start(first: t, last: t) == t)
    }

    @Test func negativeSettingsMeanNoWait() {
        let c = ChangeCoalescing(quiet: .milliseconds(-5), limit: .milliseconds(-1))
        #expect(c == .none)
    }

    /// Five units scheduled here by five notifications in a row are loaded, reloaded for and started
    /// in one pass (one daemon-reload). The quiet window is 3 s so that no pause between the five
    /// calls, however loaded the machine, splits them; before, the first notification started a pass
    /// at once and the rest needed a second one.
    @Test func aBurstOfSchedulesIsOnePass() async throws {
        let source = InMemoryAgentSource()
        let units = InMemoryUnitManager()
        let agent = Agent(
            machine: F.machine, source: source, units: units,
            configuration: AgentConfiguration(
                reconcileInterval: .seconds(60), republishInterval: .seconds(60),
                coalescing: ChangeCoalescing(quiet: .seconds(3), limit: .seconds(20))),
            logger: F.quiet)
        let run = Task { await agent.run() }
        // The first pass (at start-up) has read the empty registry.
        #expect(await AgentEventTests.eventually { source.desiredReads >= 1 })
        var registry: [RegistryUnit] = []
        var schedule: [String: String] = [:]
        for name in ["a", "b", "c", "d", "e"].map({ "\($0).service" }) {
            registry.append(try F.unit(name))
            schedule[name] = F.machine.id
            source.set(units: registry, schedule: schedule)
        }
        #expect(await AgentEventTests.eventually { units.activeCount == 5 })
        let operations = units.operations
        #expect(operations.filter { $0 == "reload" }.count == 1, "\(operations)")
        #expect(operations.filter { $0.hasPrefix("start ") }.count == 5, "\(operations)")
        run.cancel()
        await run.value
    }
}
