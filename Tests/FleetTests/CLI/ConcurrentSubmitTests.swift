import Synchronization
import Testing

@testable import Fleet

/// fleetctl with many units: requests go out concurrently (bounded), a unit created by `start` is
/// written with its desired state in one request, per-unit results and failures are still reported
/// per unit in argument order, and blocking waits poll quickly first and then at fleet's rate.
@Suite struct ConcurrentSubmitTests {
    static let text = "[Service]\nExecStart=/bin/sleep infinity\n"

    static func fixture(units: Int, latency: Duration = .zero)
        async -> (FakeFleetCluster, CapturedConsole, UnitCommands, [String])
    {
        let names = (1...units).map { "many\($0).service" }
        var files: [String: String] = [:]
        for name in names { files["dir/" + name] = text }
        let cluster = FakeFleetCluster()
        await cluster.set(latency: latency)
        let console = CapturedConsole()
        let commands = UnitCommands(context: makeContext(cluster, console, files: files))
        return (cluster, console, commands, names)
    }

    @Test func startOfManyUnitsIsConcurrentAndOneRequestPerUnit() async throws {
        let (cluster, console, commands, names) = await Self.fixture(units: 200, latency: .milliseconds(5))
        let result = try await commands.activate(names.map { "dir/" + $0 }, to: "launched", replace: false,
                                                 blocking: .init(noBlock: true))
        #expect(result == .success)
        // One listing for all the lookups and one create per unit; no separate desired-state change.
        #expect(await cluster.calls == ["units": 1, "create": 200])
        #expect(await cluster.log.count == 200)
        #expect(await cluster.log.allSatisfy { $0.hasSuffix(" launched") && $0.hasPrefix("create many") })
        // Bounded, but many at once.
        #expect(await cluster.maxInFlight == BoundedConcurrency.defaultLimit)
        // Trigger lines in argument order, whatever order the requests finished in.
        #expect(console.out == names.map { "Triggered unit \($0) start\n" }.joined())
    }

    @Test func existingUnitsAlreadyInTheTargetStateAreNotWrittenAgain() async throws {
        let (cluster, _, commands, names) = await Self.fixture(units: 5)
        try await cluster.seed(names[0], text: Self.text, desired: "launched")
        try await cluster.seed(names[1], text: Self.text, desired: "loaded")
        #expect(try await commands.activate(names.map { "dir/" + $0 }, to: "launched", replace: false,
                                            blocking: .init(noBlock: true)) == .success)
        #expect(await cluster.log.sorted() == [
            "create many3.service launched", "create many4.service launched", "create many5.service launched",
            "desired many2.service launched",
        ])
    }

    @Test func fewArgumentsAreLookedUpOneByOne() async throws {
        let (cluster, _, commands, names) = await Self.fixture(units: LazySubmit.listingThreshold - 1)
        #expect(try await commands.submit(names.map { "dir/" + $0 }, replace: false) == .success)
        #expect(await cluster.calls == ["unit": names.count, "create": names.count])
    }

    @Test func manyArgumentsResolveExistingUnitsAndTemplatesFromOneListing() async throws {
        let (cluster, _, commands, names) = await Self.fixture(units: LazySubmit.listingThreshold + 4)
        try await cluster.seed(names[0], text: Self.text, desired: "launched")
        try await cluster.seed(names[1], text: Self.text, desired: "loaded")
        try await cluster.seed("tpl@.service", text: "[Service]\nExecStart=/bin/echo %i\n", desired: "inactive")
        let arguments = names.map { "dir/" + $0 } + ["tpl@a.service"]
        #expect(try await commands.activate(arguments, to: "launched", replace: false,
                                            blocking: .init(noBlock: true)) == .success)
        // Existing units are not created again, the instance copies the stored template's options,
        // and no unit was looked up with its own GET.
        #expect(await cluster.calls["unit"] == nil)
        #expect(await cluster.calls["units"] == 1)
        #expect(await cluster.calls["create"] == names.count - 2 + 1)
        #expect(await cluster.log.contains("desired \(names[1]) launched"))
        #expect(!(await cluster.log.contains { $0.hasPrefix("create \(names[0]) ") || $0.hasPrefix("create \(names[1]) ") }))
        let instance = await cluster.storedUnit("tpl@a.service")
        #expect(instance?.options == (await cluster.storedUnit("tpl@.service"))?.options)
        #expect(instance?.desiredState == "launched")
    }

    @Test func aRefusedCreateIsReportedAndTheOthersAreStillSubmitted() async throws {
        let (cluster, _, commands, names) = await Self.fixture(units: 40, latency: .milliseconds(1))
        await cluster.set(refusingCreate: ["many7.service", "many30.service"])
        let error = try #require(await #expect(throws: CLIError.self) {
            try await commands.submit(names.map { "dir/" + $0 }, replace: false)
        })
        // The first refusal in argument order is the one reported.
        #expect("\(error)".contains("submitting unit many7.service"))
        #expect(error.exitCode == .failure)
        #expect(await cluster.log.count == 38)
        #expect(await cluster.storedUnit("many8.service")?.desiredState == "inactive")
        #expect(await cluster.storedUnit("many30.service") == nil)
    }

    @Test func blockingStartOfManyReportsEachUnitAndTimesOutOnlyTheStuckOne() async throws {
        let (cluster, console, commands, names) = await Self.fixture(units: 50)
        await cluster.set(unschedulable: ["many17.service"])
        let result = try await commands.activate(names.map { "dir/" + $0 }, to: "launched", replace: false,
                                                 blocking: .init(attempts: 1))
        #expect(result == .failure)
        let launched = console.out.split(separator: "\n").filter { $0.hasPrefix("Unit many") && $0.contains(" launched on ") }
        #expect(launched.count == 49)
        #expect(!console.out.contains("many17.service launched"))
        #expect(console.err.hasSuffix("timed out waiting for unit many17.service to report state launched\n"))
        #expect(await cluster.systemdStarts.count == 49)
    }

    @Test func aBlockingWaitForManyReadsListingsOncePerPollNotEveryUnit() async throws {
        let (cluster, console, commands, names) = await Self.fixture(units: 40)
        await cluster.set(convergeAfter: 3)
        let result = try await commands.activate(names.map { "dir/" + $0 }, to: "launched", replace: false,
                                                 blocking: .init())
        #expect(result == .success)
        #expect(console.out.split(separator: "\n").filter { $0.contains(" launched on ") }.count == 40)
        let calls = await cluster.calls
        // One listing for the submission, then per poll one listing of units, of machines and of
        // states: no request per unit at all.
        #expect(calls["unit"] == nil)
        let polls = (calls["units"] ?? 0) - 1
        #expect(polls >= 1)
        #expect(calls["machines"] == polls)
        #expect((calls["states"] ?? 0) <= polls)
    }

    @Test func aBlockingWaitForFewUnitsAsksPerUnitButListsMachinesOncePerPoll() async throws {
        let (cluster, _, commands, names) = await Self.fixture(units: 3)
        #expect(try await commands.activate(names.map { "dir/" + $0 }, to: "launched", replace: false,
                                            blocking: .init()) == .success)
        let calls = await cluster.calls
        #expect(calls["units"] == nil)
        #expect((calls["unit"] ?? 0) >= 3 + 3)
        #expect((calls["machines"] ?? 0) <= (calls["unit"] ?? 0) - 3)
    }

    @Test func destroyOfManyIsConcurrentAndReportsMissingOnes() async throws {
        let (cluster, console, commands, names) = await Self.fixture(units: 64, latency: .milliseconds(2))
        for name in names { try await cluster.seed(name, text: Self.text, desired: "launched") }
        #expect(try await commands.destroy(names + ["ghost"], blocking: .init(noBlock: true)) == .failure)
        #expect(console.out == names.map { "Destroyed \($0)\n" }.joined())
        #expect(console.err == "Unit ghost.service does not exist.\n")
        #expect(await cluster.maxInFlight > 1)
        for name in names { #expect(await cluster.storedUnit(name) == nil) }
    }

    @Test func pollsAreQuickForASecondThenBackOffToFleetsRate() {
        var waited = Duration.zero
        var previous: Duration?
        var pauses: [Duration] = []
        while waited < .seconds(3) {
            let pause = StateWaiter.pause(afterWaiting: waited, previous: previous)
            pauses.append(pause)
            waited += pause
            previous = pause
        }
        #expect(Array(pauses.prefix(20)) == Array(repeating: .milliseconds(50), count: 20))
        #expect(pauses[20] == .milliseconds(75))
        #expect(pauses[21] == .microseconds(112_500))
        #expect(pauses.last == .milliseconds(250))
        #expect(pauses.allSatisfy { $0 >= .milliseconds(50) && $0 <= .milliseconds(250) })
        // The failed-state limit spans at least one attempt window even at the quickest polls.
        let polls = StateWaiter.polls(covering: StateWaiter.attemptWindow)
        let spanned = pauses.prefix(polls).reduce(Duration.zero, +)
        #expect(spanned >= StateWaiter.attemptWindow)
        #expect(spanned - pauses[polls - 1] < StateWaiter.attemptWindow)
    }

    @Test func aSlowPollOfManyUnitsIsFollowedByAPauseAtLeastAsLong() async throws {
        let (cluster, console, _, names) = await Self.fixture(units: PollReads.bulkThreshold)
        await cluster.set(latency: .milliseconds(100))
        await cluster.set(convergeAfter: 4)
        let paused = PauseLog()
        let context = FleetctlContext(
            api: cluster, console: console.console, pause: { paused.add($0) },
            readFile: { $0.hasPrefix("dir/") ? Self.text : nil })
        let result = try await UnitCommands(context: context).activate(
            names.map { "dir/" + $0 }, to: "launched", replace: false, blocking: .init())
        #expect(result == .success)
        // Each poll lists the units, then the machines, then the states, 100 ms each; the scheduled
        // pause would be 50 ms.
        #expect(!paused.all.isEmpty)
        #expect(paused.all.allSatisfy { $0 >= .milliseconds(200) })
    }

    @Test func blockAttemptsCountTimePausedNotPolls() async throws {
        let cluster = FakeFleetCluster()
        await cluster.set(unschedulable: ["stuck.service"])
        let console = CapturedConsole()
        let paused = PauseLog()
        let context = FleetctlContext(
            api: cluster, console: console.console, pause: { paused.add($0) },
            readFile: { $0 == "stuck.service" ? Self.text : nil })
        let result = try await UnitCommands(context: context).activate(
            ["stuck.service"], to: "launched", replace: false, blocking: .init(attempts: 2))
        #expect(result == .failure)
        let total = paused.total
        #expect(total >= .seconds(4))
        #expect(total < .seconds(4) + StateWaiter.pollInterval)
    }
}

/// The pauses a waiter asked for (no real time passes).
final class PauseLog: Sendable {
    private let pauses = Mutex<[Duration]>([])
    func add(_ pause: Duration) { pauses.withLock { $0.append(pause) } }
    var total: Duration { pauses.withLock { $0.reduce(.zero, +) } }
    var all: [Duration] { pauses.withLock { $0 } }
}
