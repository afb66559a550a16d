import Foundation
import Testing
import TestSupport
@testable import Fleet

/// The built fleetctl binary against a real fleetd API server (``FleetAPIResponder`` on a unix
/// socket, over an in-process registry): every command goes through FleetAPIClient and HTTP.
/// There is no engine or agent here; where a command needs the cluster to act, the test plays
/// that part by writing the schedule, heartbeat and unit state into the registry itself.
@Suite struct FleetctlEndToEndTests {
    static let hello = ListTablesGoldenTests.hello
    static let web = "[Service]\nExecStart=/bin/sleep infinity\n"

    /// Runs fleetctl on its own thread, so the in-process server keeps the cooperative pool.
    func fleetctl(_ f: FleetAPIClientTests.Fixture, _ args: [String], cwd: String) async throws -> ProcessResult {
        try #require(FileManager.default.isExecutableFile(atPath: FleetctlBinaryTests.binary), "build fleetctl first")
        let argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", cwd, FleetctlBinaryTests.binary]
            + args + ["--endpoint", "unix://\(f.socket)"]
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try ChildProcess.run(argv, environment: ["PATH": "/usr/bin:/bin"]) })
            }.start()
        }
    }

    /// What the engine and agent of machine m1 would write for a launched unit.
    func launchOnM1(_ f: FleetAPIClientTests.Fixture, _ unit: String, hash: String) async throws {
        try await f.registry.schedule(unit, on: "m1")
        try await f.registry.setHeartbeat(unit, machineID: "m1", ttl: 60)
        try await f.registry.publishUnitState(
            unit, machineID: "m1",
            UnitStateRecord(loadState: "loaded", activeState: "active", subState: "running",
                            machineState: MachineState(id: "m1", publicIP: "10.0.0.1"), unitHash: hash),
            ttl: 60)
    }

    @Test func everyCommandThroughTheRealAPI() async throws {
        let f = try await FleetAPIClientTests.Fixture.start()
        defer { Task { await f.stop() } }
        let dir = f.directory
        try Self.hello.write(toFile: dir + "/hello.service", atomically: true, encoding: .utf8)
        try Self.web.write(toFile: dir + "/web@.service", atomically: true, encoding: .utf8)
        try "[Service]\nExecStart\n".write(toFile: dir + "/bad.service", atomically: true, encoding: .utf8)

        var r = try await fleetctl(f, ["submit", "hello", "web@1.service"], cwd: dir)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "Unit hello.service inactive\nUnit web@1.service inactive\n")

        r = try await fleetctl(f, ["list-unit-files"], cwd: dir)
        let webHash = try UnitFile(parsing: Self.web).hash.short
        #expect(r.stdout == """
            UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET
            hello.service\te55c0ae\tinactive\tinactive\t-
            web@1.service\t\(webHash)\tinactive\tinactive\t-

            """, "\(r)")

        r = try await fleetctl(f, ["cat", "hello"], cwd: dir)
        #expect(r.stdout == Self.hello, "\(r)")

        // Nothing schedules it here: one attempt (2 s) and fleet's timeout message.
        r = try await fleetctl(f, ["start", "--block-attempts=1", "hello"], cwd: dir)
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.hasSuffix("timed out waiting for unit hello.service to report state launched\n"), "\(r)")
        #expect(r.stderr.contains("hello.service: inactive, not scheduled yet, waiting for launched\n"), "\(r)")

        try await launchOnM1(f, "hello.service", hash: try UnitFile(parsing: Self.hello).hash.hex)
        r = try await fleetctl(f, ["start", "hello"], cwd: dir)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "Unit hello.service launched on m1/10.0.0.1\n", "\(r)")

        r = try await fleetctl(f, ["list-units"], cwd: dir)
        #expect(r.stdout == "UNIT\t\tMACHINE\t\tACTIVE\tSUB\nhello.service\tm1/10.0.0.1\tactive\trunning\n", "\(r)")
        r = try await fleetctl(f, ["list-machines"], cwd: dir)
        #expect(r.stdout == "MACHINE\tIP\t\tMETADATA\nm1\t10.0.0.1\t-\n", "\(r)")

        r = try await fleetctl(f, ["status", "hello"], cwd: dir)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "● hello.service on m1\n     Active: active (running)\n", "\(r)")
        r = try await fleetctl(f, ["journal", "--lines", "2", "hello"], cwd: dir)
        #expect(r.stdout == "m1 hello.service line 0\nm1 hello.service line 1\n", "\(r)")

        r = try await fleetctl(f, ["stop", "--no-block", "hello"], cwd: dir)
        #expect(r.stdout == "Triggered unit hello.service stop\n", "\(r)")
        #expect(try await f.registry.unit("hello.service")?.unit.desiredState == .loaded)

        r = try await fleetctl(f, ["destroy", "hello", "web@1"], cwd: dir)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "Destroyed hello.service\nDestroyed web@1.service\n", "\(r)")

        r = try await fleetctl(f, ["cat", "hello"], cwd: dir)
        #expect(r.status == 1)
        #expect(r.stderr == "Unit hello.service does not exist.\n", "\(r)")
        r = try await fleetctl(f, ["start", "bad.service"], cwd: dir)
        #expect(r.status == 1)
        #expect(r.stderr == "Unable to parse unit file bad.service: line 2: \"ExecStart\" is not an assignment; expected Name=Value\n", "\(r)")
    }

    @Test func journalFollowStreamsNewLines() async throws {
        let f = try await FleetAPIClientTests.Fixture.start()
        defer { Task { await f.stop() } }
        try Self.hello.write(toFile: f.directory + "/hello.service", atomically: true, encoding: .utf8)
        let submit = try await fleetctl(f, ["submit", "hello.service"], cwd: f.directory)
        #expect(submit.status == 0, "\(submit)")
        try await launchOnM1(f, "hello.service", hash: try UnitFile(parsing: Self.hello).hash.hex)

        let journal = try BackgroundProcess(
            [FleetctlBinaryTests.binary, "journal", "-f", "--lines", "1", "hello", "--endpoint", "unix://\(f.socket)"],
            logPath: f.directory + "/journal.log", environment: ["PATH": "/usr/bin:/bin"])
        defer { journal.kill() }
        #expect(await eventually(10) { f.inspector.followerCount == 1 }, "\(journal.log())")
        #expect(await eventually(10) { journal.log().contains("m1 hello.service line 0\n") }, "\(journal.log())")
        f.inspector.push("live line 1")
        #expect(await eventually(10) { journal.log().contains("live line 1\n") }, "\(journal.log())")
        #expect(journal.isRunning, "--follow keeps streaming")
    }
}
