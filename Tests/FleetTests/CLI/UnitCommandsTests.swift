import Testing
@testable import Fleet

/// submit/load/start/stop/unload/destroy/restart against ``FakeFleetCluster``: exact stdout and
/// stderr lines, exit codes, and what was written to the cluster.
@Suite struct UnitCommandsTests {
    static let hello = ListTablesGoldenTests.hello
    static let web = "[Unit]\nDescription=Web %i\n\n[Service]\nExecStart=/bin/web %i\n"
    static let monitor = "[Service]\nExecStart=/bin/monitor\n\n[X-Fleet]\nGlobal=true\n"
    static let m1Label = "00000000.../127.0.0.1"

    func fixture(files: [String: String] = [:]) -> (FakeFleetCluster, CapturedConsole, UnitCommands) {
        let cluster = FakeFleetCluster()
        let console = CapturedConsole()
        return (cluster, console, UnitCommands(context: makeContext(cluster, console, files: files)))
    }

    static func label(of unit: APIUnit?) -> String {
        let id = unit?.machineID ?? "?"
        let ip = FakeFleetCluster.threeMachines.first { $0.id == id }?.primaryIP ?? "?"
        return "\(id.prefix(8)).../\(ip)"
    }

    @Test func submitFromLocalFileIsLazyAndIdempotent() async throws {
        let (cluster, console, commands) = fixture(files: ["units/hello.service": Self.hello])
        #expect(try await commands.submit(["units/hello.service"], replace: false) == .success)
        #expect(console.out == "Unit hello.service inactive\n")
        let stored = try #require(await cluster.storedUnit("hello.service"))
        #expect(stored.unitHash?.short == "e55c0ae")
        #expect(stored.desiredState == "inactive")
        // Second submit: already there, nothing written, nothing printed.
        #expect(try await commands.submit(["units/hello.service"], replace: false) == .success)
        #expect(console.out == "Unit hello.service inactive\n")
        #expect(await cluster.log == ["create hello.service inactive"])
    }

    @Test func nameWithoutSuffixFindsTheServiceFile() async throws {
        let (cluster, console, commands) = fixture(files: ["hello.service": Self.hello])
        #expect(try await commands.submit(["hello"], replace: false) == .success)
        #expect(console.out == "Unit hello.service inactive\n")
        #expect(await cluster.storedUnit("hello.service") != nil)
    }

    @Test func startBlocksUntilActiveAndPrintsFleetsLine() async throws {
        let (cluster, console, commands) = fixture(files: ["hello.service": Self.hello])
        #expect(try await commands.activate(["hello.service"], to: "launched", replace: false,
                                            blocking: .init()) == .success)
        let label = Self.label(of: await cluster.storedUnit("hello.service"))
        #expect(console.out == "Unit hello.service launched on \(label)\n")
        #expect(console.err.contains("hello.service: inactive, not scheduled yet, waiting for launched\n"))
        #expect(await cluster.systemdStarts["hello.service"] == 1)
        // Created with its desired state in one request (fleet created it inactive, then changed it).
        #expect(await cluster.log == ["create hello.service launched"])
    }

    @Test func startInstanceFromRegistryTemplate() async throws {
        let (cluster, console, commands) = fixture()
        try await cluster.seed("web@.service", text: Self.web, desired: "inactive")
        #expect(try await commands.activate(["web@1"], to: "launched", replace: false,
                                            blocking: .init(noBlock: true)) == .success)
        // --no-block prints the trigger line once (fleet printed it twice).
        #expect(console.out == "Triggered unit web@1.service start\n")
        let instance = try #require(await cluster.storedUnit("web@1.service"))
        let template = try #require(await cluster.storedUnit("web@.service"))
        #expect(instance.options == template.options)
        #expect(instance.desiredState == "launched")
    }

    @Test func startInstanceFromLocalTemplateFile() async throws {
        let (cluster, _, commands) = fixture(files: ["dir/web@.service": Self.web])
        #expect(try await commands.activate(["dir/web@7.service"], to: "loaded", replace: false,
                                            blocking: .init()) == .success)
        let unit = try #require(await cluster.storedUnit("web@7.service"))
        #expect(unit.unitHash == (try UnitFile(parsing: Self.web)).hash)
        #expect(unit.currentState == "loaded")
    }

    @Test func templateItselfCannotBeStarted() async throws {
        let (cluster, _, commands) = fixture(files: ["web@.service": Self.web])
        await #expect(throws: CLIError.cannotActivateTemplate("web@.service")) {
            try await commands.activate(["web@.service"], to: "launched", replace: false, blocking: .init())
        }
        #expect(await cluster.log.isEmpty)
    }

    @Test func differingLocalFileWarnsAndReplaceOverwrites() async throws {
        let changed = Self.hello.replacing("Hello World", with: "Hello Again")
        let (cluster, console, commands) = fixture(files: ["hello.service": changed])
        try await cluster.seed("hello.service", text: Self.hello, desired: "launched")
        #expect(try await commands.submit(["hello.service"], replace: false) == .success)
        #expect(console.err == "WARNING: Unit hello.service in registry differs from local unit file hello.service. Add --replace to override.\n")
        #expect(await cluster.storedUnit("hello.service")?.unitHash?.short == "e55c0ae")
        #expect(try await commands.submit(["hello.service"], replace: true) == .success)
        let replaced = try #require(await cluster.storedUnit("hello.service"))
        #expect(replaced.unitHash == (try UnitFile(parsing: changed)).hash)
        #expect(replaced.desiredState == "launched")
    }

    @Test func unknownUnitAndMalformedFileAndBadNameFailBeforeWriting() async throws {
        let (cluster, _, commands) = fixture(files: ["bad.service": "[Service]\nExecStart\n", "ok.service": Self.hello])
        await #expect(throws: CLIError.unitFileNotFound(name: "nope.service", path: "nope", reason: "no such file")) {
            try await commands.submit(["ok.service", "nope"], replace: false)
        }
        await #expect(throws: CLIError.malformedUnitFile(
            path: "bad.service", .missingEquals(line: 2, text: "ExecStart"))) {
            try await commands.activate(["ok.service", "bad.service"], to: "launched", replace: false, blocking: .init())
        }
        await #expect(throws: CLIError.templateNotFound(instance: "db@1.service", template: "db@.service")) {
            try await commands.submit(["db@1"], replace: false)
        }
        let badName = try #require(await #expect(throws: CLIError.self) {
            try await commands.submit(["a b"], replace: false)
        })
        #expect(badName.exitCode == .usage)
        #expect("\(badName)".hasPrefix("Invalid unit \"a b\": "))
        #expect(await cluster.log.isEmpty)
        #expect("\(CLIError.malformedUnitFile(path: "bad.service", .missingEquals(line: 2, text: "ExecStart")))"
            == "Unable to parse unit file bad.service: line 2: \"ExecStart\" is not an assignment; expected Name=Value")
    }

    @Test func blockAttemptsTimeOutWithFleetsMessage() async throws {
        let (cluster, console, commands) = fixture(files: ["web@4.service": Self.web])
        await cluster.set(unschedulable: ["web@4.service"])
        #expect(try await commands.activate(["web@4.service"], to: "launched", replace: false,
                                            blocking: .init(attempts: 2)) == .failure)
        #expect(console.out == "")
        #expect(console.err.hasSuffix("timed out waiting for unit web@4.service to report state launched\n"))
    }

    @Test func failingUnitIsReportedNotWaitedForForever() async throws {
        let (cluster, console, commands) = fixture(files: ["crash.service": Self.web])
        await cluster.set(failing: ["crash.service"])
        #expect(try await commands.activate(["crash.service"], to: "launched", replace: false,
                                            blocking: .init()) == .failure)
        #expect(console.err.contains("Unit crash.service failed on 00000000.../127.0.0."))
        #expect(console.err.contains(": ActiveState=failed SubState=failed\n"))
    }

    @Test func globalUnitsNeverBlock() async throws {
        let (cluster, console, commands) = fixture(files: ["monitor.service": Self.monitor])
        #expect(try await commands.activate(["monitor"], to: "launched", replace: false, blocking: .init()) == .success)
        #expect(console.out == "Triggered global unit monitor.service start\n")
        #expect(await cluster.storedUnit("monitor.service")?.desiredState == "launched")
    }

    @Test func stopUnloadDestroy() async throws {
        let (cluster, console, commands) = fixture()
        try await cluster.seed("hello.service", text: Self.hello, desired: "launched")
        let label = Self.label(of: await cluster.storedUnit("hello.service"))
        #expect(try await commands.deactivate(["hello"], to: "loaded", blocking: .init()) == .success)
        #expect(console.out == "Unit hello.service loaded on \(label)\n")
        #expect(console.err.hasSuffix("Successfully stopped units [hello.service].\n"))
        #expect(try await commands.deactivate(["hello"], to: "inactive", blocking: .init()) == .success)
        #expect(console.out.hasSuffix("Unit hello.service inactive\n"))
        #expect(console.err.hasSuffix("Successfully unloaded units [hello.service].\n"))
        // Stopping an inactive unit is an error naming the unit.
        #expect(try await commands.deactivate(["hello"], to: "loaded", blocking: .init()) == .failure)
        #expect(console.err.hasSuffix("Unable to stop unit hello.service in state inactive\n"))
        #expect(try await commands.destroy(["hello"], blocking: .init()) == .success)
        #expect(console.out.hasSuffix("Destroyed hello.service\n"))
        #expect(await cluster.storedUnit("hello.service") == nil)
    }

    @Test func unknownUnitOnStopIsReportedAndOthersProceed() async throws {
        let (cluster, console, commands) = fixture()
        try await cluster.seed("hello.service", text: Self.hello, desired: "launched")
        #expect(try await commands.destroy(["ghost", "hello"], blocking: .init(noBlock: true)) == .failure)
        #expect(console.out == "Destroyed hello.service\n")
        #expect(console.err == "Unit ghost.service does not exist.\n")
    }

    @Test func restartReallyStopsAndStartsAgain() async throws {
        let (cluster, console, commands) = fixture()
        try await cluster.seed("hello.service", text: Self.hello, desired: "launched")
        #expect(await cluster.systemdStarts["hello.service"] == 1)
        let label = Self.label(of: await cluster.storedUnit("hello.service"))
        #expect(try await commands.restart(["hello"], attempts: 0) == .success)
        #expect(await cluster.log == ["desired hello.service loaded", "desired hello.service launched"])
        #expect(await cluster.systemdStarts["hello.service"] == 2)
        #expect(console.out == "Unit hello.service launched on \(label)\n")
    }

    /// A state read that shows nothing (a lagging member right after a fail-over) is not taken for
    /// "stopped": restart waits for its machine's report, so the unit really restarts.
    @Test func restartWaitsForTheMachinesReportBeforeStartingAgain() async throws {
        let (cluster, _, commands) = fixture()
        try await cluster.seed("hello.service", text: Self.hello, desired: "launched")
        #expect(await cluster.systemdStarts["hello.service"] == 1)
        await cluster.set(unreportedReads: 2)
        #expect(try await commands.restart(["hello"], attempts: 0) == .success)
        #expect(await cluster.systemdStarts["hello.service"] == 2, "restart set launched again before anything stopped")
    }

    @Test func restartGlobalUnitRestartsEveryMachine() async throws {
        let (cluster, console, commands) = fixture()
        try await cluster.seed("monitor.service", text: Self.monitor, desired: "launched")
        #expect(await cluster.systemdStarts["monitor.service"] == 3)
        #expect(try await commands.restart(["monitor"], attempts: 5) == .success)
        #expect(await cluster.systemdStarts["monitor.service"] == 6)
        #expect(console.out == """
            Unit monitor.service launched on 00000000.../127.0.0.1
            Unit monitor.service launched on 00000000.../127.0.0.2
            Unit monitor.service launched on 00000000.../127.0.0.3

            """)
    }

    @Test func unreachableEndpointIsOneLineAndExitCode3() async throws {
        let (cluster, _, commands) = fixture()
        await cluster.set(unreachable: true)
        let error = try #require(await #expect(throws: CLIError.self) {
            try await commands.deactivate(["hello"], to: "loaded", blocking: .init())
        })
        #expect(error.exitCode == .unreachable)
        #expect("\(error)" == "Error looking up unit hello.service: cannot reach fleet API at unix:///var/run/fleet.sock: connection refused")
    }
}
