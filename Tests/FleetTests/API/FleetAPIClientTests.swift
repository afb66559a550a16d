import KV
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import Fleet

/// ``FleetAPIClient`` against a real ``HTTPServer`` on a unix socket serving ``FleetAPIResponder``.
@Suite struct FleetAPIClientTests {
    /// A server on a fresh unix socket, its registry and inspector, and a client for it.
    struct Fixture {
        let directory: String
        let socket: String
        let server: HTTPServer
        let registry: Registry
        let inspector: FakeInspector
        let client: FleetAPIClient

        static func start(tokenLimit: UInt16 = 100, endpoints: (String) -> [String] = { ["unix://\($0)"] })
            async throws -> Fixture
        {
            let directory = try APITest.temporaryDirectory()
            let socket = directory + "/fleet.sock"
            let (registry, _) = APITest.registry()
            let inspector = FakeInspector(machine: "m1")
            try await registry.createMachine(MachineState(id: "m1", publicIP: "10.0.0.1"), ttl: 60)
            let responder = APITest.responder(registry, tokenLimit: tokenLimit, machineID: "m1", inspector: inspector)
            let server = try await HTTPServer.start(address: .unix(path: socket), responder: responder)
            let client = try FleetAPIClient(endpoints: endpoints(socket), requestTimeout: 5)
            return Fixture(directory: directory, socket: socket, server: server, registry: registry,
                           inspector: inspector, client: client)
        }

        /// Creates a launched unit scheduled on this server's machine (m1).
        func launchHere(_ name: String) async throws {
            try await client.createUnit(APIUnit(name: name, options: FleetAPIClientTests.options, desiredState: "launched"))
            try await registry.schedule(name, on: "m1")
        }

        func stop() async {
            await server.shutdown()
            _ = try? ChildProcess.run(["rm", "-rf", directory])
        }
    }

    static let options = [APIUnitOption(section: "Service", name: "ExecStart", value: "/bin/sleep 1000")]

    @Test func everyProtocolMethodRoundTrips() async throws {
        let f = try await Fixture.start()
        defer { Task { await f.stop() } }
        let api: any FleetAPI = f.client

        try await api.createUnit(APIUnit(name: "b.service", options: Self.options, desiredState: "inactive"))
        try await api.createUnit(APIUnit(name: "a.service", options: Self.options, desiredState: "launched"))
        #expect(try await api.units().map(\.name) == ["a.service", "b.service"])
        let a = try #require(try await api.unit("a.service"))
        #expect(a.options == Self.options)
        #expect(a.desiredState == "launched")
        #expect(a.currentState == "inactive")
        #expect(try await api.unit("zzz.service") == nil)

        try await api.setDesiredState("b.service", to: "loaded")
        #expect(try await f.registry.unit("b.service")?.desiredState == .loaded)
        await #expect(throws: FleetAPIError.notFound("unit nope.service does not exist")) {
            try await api.setDesiredState("nope.service", to: "loaded")
        }
        await #expect(throws: FleetAPIError.server(status: 400, message: #"invalid desiredState "up"; expected inactive, loaded or launched"#)) {
            try await api.setDesiredState("b.service", to: "up")
        }

        try await api.destroyUnit("b.service")
        await #expect(throws: FleetAPIError.notFound("unit b.service does not exist")) { try await api.destroyUnit("b.service") }

        #expect(try await api.machines() == [APIMachine(id: "m1", primaryIP: "10.0.0.1")])
        try await api.patchMachineMetadata([APIMachineMetadataOp(op: "add", path: "/m1/metadata/az", value: "z1")])
        #expect(try await api.machines().first?.metadata == ["az": "z1"])
        await #expect(throws: FleetAPIError.self) {
            try await api.patchMachineMetadata([APIMachineMetadataOp(op: "add", path: "/m1/bad", value: "z1")])
        }

        let record = UnitStateRecord(loadState: "loaded", activeState: "active", subState: "running", machineState: nil, unitHash: "h")
        try await f.registry.createMachine(MachineState(id: "m2"), ttl: 60)
        try await f.registry.publishUnitState("a.service", machineID: "m2", record, ttl: 60)
        try await f.registry.publishUnitState("a.service", machineID: "m1", record, ttl: 60)
        #expect(try await api.unitStates(machineID: nil, unitName: nil).map(\.machineID) == ["m1", "m2"])
        #expect(try await api.unitStates(machineID: "m2", unitName: "a.service").map(\.machineID) == ["m2"])

        try await f.registry.schedule("a.service", on: "m1")
        #expect(try await api.unitStatus("a.service", machineID: nil).contains("a.service on m1"))
        await #expect(throws: FleetAPIError.notFound("unit zzz.service does not exist")) {
            _ = try await api.unitStatus("zzz.service", machineID: nil)
        }
        var lines: [String] = []
        for try await line in try await api.journal("a.service", machineID: nil, lines: 3, follow: false) { lines.append(line) }
        #expect(lines == ["m1 a.service line 0", "m1 a.service line 1", "m1 a.service line 2"])
    }

    @Test func listingsFollowEveryPage() async throws {
        let f = try await Fixture.start(tokenLimit: 2)
        defer { Task { await f.stop() } }
        for i in (1...7).reversed() {
            try await f.client.createUnit(APIUnit(name: "u\(i).service", options: Self.options, desiredState: "inactive"))
        }
        #expect(try await f.client.units().map(\.name) == (1...7).map { "u\($0).service" })
        for i in 2...5 { try await f.registry.createMachine(MachineState(id: "m\(i)"), ttl: 60) }
        #expect(try await f.client.machines().map(\.id) == ["m1", "m2", "m3", "m4", "m5"])
        // A multiple of the page size: fleet's trailing empty page is followed and ends the listing.
        try await f.client.destroyUnit("u7.service")
        #expect(try await f.client.units().count == 6)
    }

    @Test func failsOverFromADeadEndpointAndNamesEndpointsWhenAllAreDead() async throws {
        let dead = "http://127.0.0.1:\(freeLoopbackPort())"
        let f = try await Fixture.start(endpoints: { [dead, "unix:///nonexistent/fleet.sock", "unix://\($0)"] })
        defer { Task { await f.stop() } }
        #expect(try await f.client.machines().map(\.id) == ["m1"])

        let none = try FleetAPIClient(endpoints: [dead, "unix:///nonexistent/fleet.sock"], requestTimeout: 2)
        do {
            _ = try await none.units()
            Issue.record("expected unreachable")
        } catch .unreachable(let endpoint, let reason) {
            #expect(endpoint == "\(dead), unix:///nonexistent/fleet.sock")
            #expect(reason.contains(dead) && reason.contains("unix:///nonexistent/fleet.sock"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func timesOutOnASilentServer() async throws {
        let directory = try APITest.temporaryDirectory()
        let socket = directory + "/silent.sock"
        // Answers only after 10 s (or never, once the client hangs up and the wait is cancelled).
        let server = try await HTTPServer.start(
            address: .unix(path: socket),
            responder: ClosureResponder { _ in
                try? await Task.sleep(for: .seconds(10))
                return HTTPResponse(status: .ok)
            })
        defer { Task { await server.shutdown() } }
        let client = try FleetAPIClient(endpoints: ["unix://\(socket)"], requestTimeout: 0.3)
        let started = ContinuousClock.now
        await #expect(throws: FleetAPIError.timedOut(endpoint: "unix://\(socket)", seconds: 0.3)) {
            _ = try await client.machines()
        }
        await #expect(throws: FleetAPIError.timedOut(endpoint: "unix://\(socket)", seconds: 0.3)) {
            _ = try await client.journal("a.service", machineID: nil, lines: 1, follow: true)
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func journalFollowStreamsLinesAsTheyArrive() async throws {
        let f = try await Fixture.start()
        defer { Task { await f.stop() } }
        try await f.launchHere("a.service")
        let lines = try await f.client.journal("a.service", machineID: nil, lines: 1, follow: true)
        var iterator = lines.makeAsyncIterator()
        #expect(try await iterator.next() == "m1 a.service line 0")
        #expect(await eventually { f.inspector.followerCount == 1 })
        for i in 0..<3 {
            f.inspector.push("live \(i)")
            #expect(try await iterator.next() == "live \(i)")
        }
        // Errors before the stream starts are mapped like any other answer.
        await #expect(throws: FleetAPIError.server(status: 409, message: "unit b.service is not running on any machine")) {
            try await f.client.createUnit(APIUnit(name: "b.service", options: Self.options, desiredState: "launched"))
            _ = try await f.client.journal("b.service", machineID: nil, lines: 1, follow: true)
        }
    }

    @Test func stoppingAFollowReleasesTheServersJournalReader() async throws {
        let f = try await Fixture.start()
        defer { Task { await f.stop() } }
        try await f.launchHere("a.service")
        let lines = try await f.client.journal("a.service", machineID: nil, lines: 0, follow: true)
        let reader = Task {
            var count = 0
            for try await _ in lines { count += 1 }
            return count
        }
        #expect(await eventually { f.inspector.followerCount == 1 })
        #expect(f.inspector.endedFollowers == 0)
        reader.cancel()
        _ = try? await reader.value
        #expect(await eventually { f.inspector.endedFollowers == 1 })
    }

    @Test func endpointsAreCheckedUpFront() {
        #expect(throws: FleetAPIError.invalidEndpoint("https://")) { try FleetAPIClient(endpoints: ["https://"]) }
        #expect(FleetAPIError.invalidEndpoint("x").description.contains("https://host:port"))
        #expect((try? FleetAPIClient(endpoints: ["https://10.0.0.1:443"])) != nil)
        #expect(throws: FleetAPIError.invalidEndpoint("ftp://x")) { try FleetAPIClient(endpoints: ["ftp://x"]) }
        #expect(throws: FleetAPIError.invalidEndpoint("")) { try FleetAPIClient(endpoints: []) }
        #expect((try? FleetAPIClient(endpointList: "unix:///var/run/fleet.sock, http://127.0.0.1:54728")) != nil)
    }
}
