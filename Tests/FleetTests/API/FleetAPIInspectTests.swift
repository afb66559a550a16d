import KV
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import TestSupport
@testable import Fleet

/// Unit status and journal: answered by the agent of the machine running the unit, here or through
/// that machine's fleetd; every way it can fail says what to do.
@Suite struct FleetAPIInspectTests {
    static let path = "/fleet/v1/units/hello.service"

    /// A registry with `hello.service` scheduled on `target` and the machines present.
    static func cluster(target: String?, machines: [MachineState]) async throws -> Registry {
        let (registry, _) = APITest.registry()
        try await registry.createUnit(RegistryUnit(name: "hello.service", text: "[Service]\nExecStart=/bin/true\n", desiredState: .launched))
        if let target { try await registry.schedule("hello.service", on: target) }
        for machine in machines { try await registry.createMachine(machine, ttl: 60) }
        return registry
    }

    @Test func localStatusAndJournalComeFromTheInspector() async throws {
        let registry = try await Self.cluster(target: "m1", machines: [MachineState(id: "m1")])
        let inspector = FakeInspector(machine: "m1")
        let api = APITest.responder(registry, machineID: "m1", inspector: inspector)
        let status = try await APITest.call(api, .GET, Self.path + "/status")
        #expect(status.status == 200)
        #expect(status.contentType == "text/plain; charset=utf-8")
        #expect(status.body == "● hello.service on m1\n     Active: active (running)\n")
        #expect(status.headers.first(name: "Server") == "fleetd/v9.9.9")
        let journal = try await APITest.call(api, .GET, Self.path + "/journal?lines=2&follow=false")
        #expect(journal.body == "m1 hello.service line 0\nm1 hello.service line 1\n")
        let defaults = try await APITest.call(api, .GET, Self.path + "/journal")
        #expect(defaults.body.split(separator: "\n").count == 10)
        #expect(inspector.requests == ["status hello.service", "journal hello.service 2 false", "journal hello.service 10 false"])
    }

    @Test func parametersAndUnitProblemsAreClearErrors() async throws {
        let registry = try await Self.cluster(target: nil, machines: [MachineState(id: "m1")])
        let api = APITest.responder(registry, machineID: "m1", inspector: FakeInspector(machine: "m1"))
        var answer = try await APITest.call(api, .GET, Self.path + "/journal?lines=many")
        #expect(answer.body == APITest.error(400, #"lines must be a whole number from 0 to 100000, got \"many\""#))
        answer = try await APITest.call(api, .GET, Self.path + "/journal?follow=yes")
        #expect(answer.body == APITest.error(400, #"follow must be true or false, got \"yes\""#))
        answer = try await APITest.call(api, .GET, "/fleet/v1/units/nope.service/status")
        #expect(answer.body == APITest.error(404, "unit does not exist"))
        answer = try await APITest.call(api, .GET, Self.path + "/status")
        #expect(answer.body == APITest.error(409, "unit hello.service is not running on any machine"))

        // A global unit needs machineID=, and the answer names where it runs.
        try await registry.createUnit(RegistryUnit(name: "mon.service", text: "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n", desiredState: .launched))
        answer = try await APITest.call(api, .GET, "/fleet/v1/units/mon.service/status")
        #expect(answer.body == APITest.error(400, "unit mon.service is global and runs on no machine yet"))
        for m in ["m2", "m1"] {
            let record = UnitStateRecord(loadState: "loaded", activeState: "active", subState: "running", machineState: nil, unitHash: "x")
            try await registry.publishUnitState("mon.service", machineID: m, record, ttl: 60)
        }
        answer = try await APITest.call(api, .GET, "/fleet/v1/units/mon.service/status")
        #expect(answer.body == APITest.error(400, "unit mon.service is global; add machineID= naming one of the machines running it: m1, m2"))
        answer = try await APITest.call(api, .GET, "/fleet/v1/units/mon.service/status?machineID=m1")
        #expect(answer.status == 200)
        #expect(answer.body.contains("mon.service on m1"))

        // Inspector failures and a fleetd without an inspector.
        try await registry.createUnit(RegistryUnit(name: "broken.service", text: "[Service]\nExecStart=/bin/true\n", desiredState: .launched))
        try await registry.schedule("broken.service", on: "m1")
        answer = try await APITest.call(api, .GET, "/fleet/v1/units/broken.service/status")
        #expect(answer.status == 500)
        #expect(answer.body.contains("reading the status of unit broken.service on machine m1"))
        let blind = APITest.responder(registry, machineID: "m1")
        answer = try await APITest.call(blind, .GET, "/fleet/v1/units/broken.service/status")
        #expect(answer.body == APITest.error(501, "this fleetd (machine m1) has no access to its systemd; cannot read unit broken.service"))
    }

    @Test func remoteTargetsNeedAPresentMachineWithAnAPIURL() async throws {
        let registry = try await Self.cluster(target: "m2", machines: [MachineState(id: "m1"), MachineState(id: "m2")])
        let api = APITest.responder(registry, machineID: "m1", inspector: FakeInspector(machine: "m1"), forwardClient: HTTPClient())
        var answer = try await APITest.call(api, .GET, Self.path + "/status")
        #expect(answer.body == APITest.error(502, "machine m2 does not advertise an API address; start its fleetd with a TCP API listener"))

        try await registry.removeMachine("m2")
        answer = try await APITest.call(api, .GET, Self.path + "/status")
        #expect(answer.body == APITest.error(409, "unit hello.service is scheduled on machine m2, which is no longer in the cluster"))

        let dead = "http://127.0.0.1:\(freeLoopbackPort())"
        try await registry.createMachine(MachineState(id: "m2", apiURL: dead), ttl: 60)
        answer = try await APITest.call(api, .GET, Self.path + "/journal")
        #expect(answer.status == 502)
        #expect(answer.body.contains("forwarding the journal request of unit hello.service to machine m2 at \(dead) failed"))
    }

    @Test func forwardsToTheMachineRunningTheUnitAndStreamsFollow() async throws {
        let registry = try await Self.cluster(target: "m2", machines: [])
        let remote = FakeInspector(machine: "m2")
        let client = HTTPClient()
        defer { client.shutdown() }
        let server2 = try await HTTPServer.start(
            address: .tcp(host: "127.0.0.1", port: 0),
            responder: APITest.responder(registry, machineID: "m2", inspector: remote, forwardClient: client))
        let server1 = try await HTTPServer.start(
            address: .tcp(host: "127.0.0.1", port: 0),
            responder: APITest.responder(registry, machineID: "m1", inspector: FakeInspector(machine: "m1"), forwardClient: client))
        defer { Task { await server1.shutdown(); await server2.shutdown() } }
        guard case .tcp(_, let port2) = server2.boundAddress, case .tcp(_, let port1) = server1.boundAddress else {
            Issue.record("no TCP ports")
            return
        }
        try await registry.createMachine(MachineState(id: "m1", apiURL: "http://127.0.0.1:\(port1)"), ttl: 60)
        try await registry.createMachine(MachineState(id: "m2", apiURL: "http://127.0.0.1:\(port2)"), ttl: 60)

        let via1 = HTTPEndpoint.tcp(host: "127.0.0.1", port: port1)
        let status = try await client.execute(.GET, via1, Self.path + "/status", timeout: 10)
        #expect(status.status == .ok)
        #expect(status.bodyString == "● hello.service on m2\n     Active: active (running)\n")
        #expect(status.headers.first(name: "Server") == "fleetd/v9.9.9")
        #expect(status.headers.first(name: "Content-Type") == "text/plain; charset=utf-8")
        #expect(remote.requests == ["status hello.service"])

        // Follow: lines pushed on m2 arrive through m1 while the stream is open.
        let (head, body) = try await client.stream(.GET, via1, Self.path + "/journal?lines=1&follow=true", connectTimeout: 5)
        #expect(head.status == .ok)
        #expect(head.headers.first(name: "Transfer-Encoding") == "chunked")
        let received = Received()
        let reader = Task {
            for try await chunk in body { received.append(String(buffer: chunk)) }
        }
        // Pushed until it arrives (a line pushed before the relay follows is not sent), for at most 30 s.
        let deadline = ContinuousClock.now + .seconds(30)
        while !received.text.contains("pushed line\n"), ContinuousClock.now < deadline {
            if remote.followerCount > 0 { remote.push("pushed line") }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(received.text.hasPrefix("m2 hello.service line 0\n"))
        #expect(received.text.contains("pushed line\n"))
        #expect(remote.requests.last == "journal hello.service 1 true")

        // Hanging up on m1 ends the relay, which hangs up on m2, which stops reading the journal.
        #expect(remote.endedFollowers == 0)
        reader.cancel()
        _ = try? await reader.value
        #expect(await eventually { remote.endedFollowers == 1 })
    }

    /// Text collected by a reading task.
    final class Received: Sendable {
        private let value = Mutex("")
        func append(_ text: String) { value.withLock { $0 += text } }
        var text: String { value.withLock { $0 } }
    }

    @Test func forwardedRequestsAreNeverForwardedAgain() async throws {
        let registry = try await Self.cluster(target: "m2", machines: [MachineState(id: "m2", apiURL: "http://127.0.0.1:1")])
        let api = APITest.responder(registry, machineID: "m1", inspector: FakeInspector(machine: "m1"), forwardClient: HTTPClient())
        var headers = HTTPHeaders()
        headers.add(name: FleetAPIResponder.forwardedHeader, value: "m3")
        let response = await api.respond(to: HTTPRequest(method: .GET, uri: Self.path + "/status", headers: headers))
        #expect(response.status.code == 508)
        guard case .bytes(let body) = response.body else { return }
        #expect(String(buffer: body) == APITest.error(508, "request for unit hello.service was forwarded here by machine m3, but this is machine m1, not m2; refusing to forward it again (check the machines' APIURL addresses)"))
        // Asking a machine for itself is answered locally even when forwarded.
        let local = await api.respond(to: HTTPRequest(method: .GET, uri: Self.path + "/status?machineID=m1", headers: headers))
        #expect(local.status == .ok)
    }

    @Test func machineStateCarriesAPIURLOnlyWhenSet() throws {
        let plain = try RegistryJSON.encode(MachineState(id: "m1"))
        #expect(!plain.contains("APIURL"))
        let withURL = MachineState(id: "m1", apiURL: "http://10.0.0.1:54728")
        let text = try RegistryJSON.encode(withURL)
        #expect(text.contains(#""APIURL":"http://10.0.0.1:54728""#))
        #expect(try RegistryJSON.decode(MachineState.self, from: text) == withURL)
    }
}
