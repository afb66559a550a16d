import Testing
@testable import Fleet

/// list-*, cat, status, journal and machine resolution against ``FakeFleetCluster``.
@Suite struct InspectCommandsTests {
    func fixture() async throws -> (FakeFleetCluster, CapturedConsole, InspectCommands) {
        let cluster = FakeFleetCluster()
        try await cluster.seed("hello.service", text: UnitCommandsTests.hello, desired: "launched")
        try await cluster.seed("monitor.service", text: UnitCommandsTests.monitor, desired: "launched")
        let console = CapturedConsole()
        return (cluster, console, InspectCommands(context: makeContext(cluster, console)))
    }

    @Test func listCommandsPrintTablesFromTheAPI() async throws {
        let (cluster, console, commands) = try await fixture()
        let hello = try #require(await cluster.storedUnit("hello.service"))
        let label = UnitCommandsTests.label(of: hello)
        #expect(try await commands.listUnits(.init(noLegend: true, fields: "unit,machine")) == .success)
        #expect(console.out == """
            hello.service\t\(label)
            monitor.service\t00000000.../127.0.0.1
            monitor.service\t00000000.../127.0.0.2
            monitor.service\t00000000.../127.0.0.3

            """)
        let files = CapturedConsole()
        #expect(try await InspectCommands(context: makeContext(cluster, files)).listUnitFiles(.init(fields: "unit,state,target")) == .success)
        #expect(files.out == """
            UNIT\t\tSTATE\t\tTARGET
            hello.service\tlaunched\t\(label)
            monitor.service\t-\t\tglobal

            """)
        let machines = CapturedConsole()
        #expect(try await InspectCommands(context: makeContext(cluster, machines)).listMachines(.init(full: true, fields: "machine")) == .success)
        #expect(machines.out == "MACHINE\n000000000000000000000000f1ee7001\n000000000000000000000000f1ee7002\n000000000000000000000000f1ee7003\n")
    }

    @Test func catPrintsTheStoredUnitReserialised() async throws {
        let (_, console, commands) = try await fixture()
        #expect(try await commands.cat("hello") == .success)
        #expect(console.out == UnitCommandsTests.hello)
        await #expect(throws: CLIError.unitNotFound("nope.service")) { try await commands.cat("nope") }
    }

    @Test func statusThroughTheAPIIncludingGlobalUnits() async throws {
        let (cluster, console, commands) = try await fixture()
        let id = try #require(await cluster.storedUnit("hello.service")?.machineID)
        #expect(try await commands.status(["hello"], machine: nil) == .success)
        #expect(console.out == "● hello.service on \(id)\n   Active: active\n")
        let global = CapturedConsole()
        let globalCommands = InspectCommands(context: makeContext(cluster, global))
        #expect(try await globalCommands.status(["monitor"], machine: "000000000000000000000000f1ee7002") == .success)
        #expect(global.out == "● monitor.service on 000000000000000000000000f1ee7002\n   Active: active\n")
    }

    @Test func statusOfUnitRunningNowhere() async throws {
        let (cluster, console, commands) = try await fixture()
        try await cluster.seed("idle.service", text: UnitCommandsTests.web, desired: "inactive")
        #expect(try await commands.status(["idle", "ghost"], machine: nil) == .failure)
        #expect(console.err == "Unit idle.service does not appear to be running.\nUnit ghost.service does not exist.\n")
    }

    @Test func journalLinesAndFollow() async throws {
        let (cluster, console, commands) = try await fixture()
        await cluster.set(journal: (1...20).map { "line \($0)" })
        #expect(try await commands.journal("hello", lines: 3, follow: false, machine: nil) == .success)
        #expect(console.out == "line 18\nline 19\nline 20\n")
        let follow = CapturedConsole()
        #expect(try await InspectCommands(context: makeContext(cluster, follow))
            .journal("hello", lines: 1, follow: true, machine: nil) == .success)
        #expect(follow.out == "line 20\nfollowed line 1\nfollowed line 2\n")
        await #expect(throws: CLIError.ambiguous(
            "Unit monitor.service runs on 3 machines; choose one with --machine (see list-units)")) {
            try await commands.journal("monitor", lines: 10, follow: false, machine: nil)
        }
    }

    @Test func machineResolution() async throws {
        let (cluster, _, _) = try await fixture()
        let resolver = MachineResolver(context: makeContext(cluster, CapturedConsole()))
        #expect(try await resolver.machine(prefix: "000000000000000000000000f1ee7003").primaryIP == "127.0.0.3")
        await #expect(throws: CLIError.self) { try await resolver.machine(prefix: "0000") }
        await #expect(throws: CLIError.machineNotFound("zzz")) { try await resolver.machine(prefix: "zzz") }
        let hello = try #require(await cluster.storedUnit("hello.service"))
        #expect(try await resolver.machine(named: "hello").id == hello.machineID)
        await #expect(throws: CLIError.ambiguous(
            "Unit monitor.service is global and runs on several machines; name a machine instead")) {
            try await resolver.machine(ofUnit: "monitor")
        }
    }

    @Test func nameMatchingMachineAndUnitIsRefused() async throws {
        let (cluster, _, _) = try await fixture()
        try await cluster.seed("0000.service", text: UnitCommandsTests.web, desired: "launched")
        let resolver = MachineResolver(context: makeContext(cluster, CapturedConsole()))
        await #expect(throws: CLIError.ambiguous(
            "\"0000\" matches both a machine and unit 0000.service; use --machine or --unit")) {
            try await resolver.machine(named: "0000")
        }
        let id = try #require(await cluster.storedUnit("0000.service")?.machineID)
        #expect(try await resolver.machine(ofUnit: "0000").id == id)
    }

    @Test func sshArguments() {
        let settings = SSHSettings(username: "core", timeout: 2.5, strictHostKeyChecking: false,
                                   knownHostsFile: "~/.fleetctl/known_hosts", port: 2222, forwardAgent: true)
        #expect(settings.arguments(host: "10.0.0.1", command: ["uptime"], home: "/root") == [
            "ssh", "-l", "core", "-p", "2222", "-o", "ConnectTimeout=3", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/root/.fleetctl/known_hosts", "-A", "-t", "10.0.0.1", "--", "uptime",
        ])
        #expect(SSHSettings().arguments(host: "h", command: [], home: nil) == [
            "ssh", "-l", "core", "-p", "22", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=ask",
            "-o", "UserKnownHostsFile=~/.fleetctl/known_hosts", "h",
        ])
    }
}

/// argv rewriting: `-v`, abbreviations, environment variables, refused flags.
@Suite struct ArgumentPreprocessorTests {
    func rewrite(_ args: [String], _ env: [String: String] = [:]) throws(CLIError) -> [String] {
        try ArgumentPreprocessor.rewrite(args, environment: env)
    }

    @Test func versionAndAbbreviations() throws {
        #expect(try rewrite(["-v"]) == ["version"])
        #expect(try rewrite(["list-m", "--full"]) == ["list-machines", "--full"])
        #expect(try rewrite(["--endpoint", "unix:///x", "list-unit-", "-l"])
            == ["list-unit-files", "--endpoint", "unix:///x", "-l"])
        #expect(try rewrite(["des", "a"]) == ["destroy", "a"])
        #expect(throws: CLIError.self) { try rewrite(["sta", "a"]) }  // start, status
        #expect(try rewrite(["help", "list-m"]) == ["help", "list-machines"])
        #expect(throws: CLIError.usage("ambiguous command \"list\": could be list-machines, list-unit-files, list-units")) {
            try rewrite(["list"])
        }
        #expect(throws: CLIError.usage("unknown command \"frobnicate\" for fleetctl; run 'fleetctl help' for the list of commands")) {
            try rewrite(["frobnicate"])
        }
    }

    @Test func environmentFillsGlobalFlagsAndCommandLineWins() throws {
        let env = ["FLEETCTL_ENDPOINT": "http://10.0.0.1:8080", "FLEETCTL_REQUEST_TIMEOUT": "5", "FLEETCTL_DEBUG": "true"]
        #expect(try rewrite(["list-units"], env)
            == ["list-units", "--endpoint=http://10.0.0.1:8080", "--request-timeout=5", "--debug"])
        #expect(try rewrite(["list-units", "--endpoint=unix:///s"], env)
            == ["list-units", "--request-timeout=5", "--debug", "--endpoint=unix:///s"])
        #expect(try rewrite(["list-units"], ["FLEETCTL_DEBUG": "0"]) == ["list-units"])
        #expect(throws: CLIError.usage("FLEETCTL_DEBUG=maybe is not a boolean; use true or false")) {
            try rewrite(["list-units"], ["FLEETCTL_DEBUG": "maybe"])
        }
        #expect(try rewrite(["help"], env) == ["help"])
    }

    @Test func unsupportedFlagsAreRefusedByName() throws {
        #expect(throws: CLIError.usage("flag --tunnel is not supported: SSH tunnelling is not supported; use an http:// endpoint or run fleetctl on a cluster machine")) {
            try rewrite(["--tunnel=bastion", "list-units"])
        }
        #expect(throws: CLIError.usage("flag --sign is not supported: unit signing was deprecated in fleet and is not supported")) {
            try rewrite(["submit", "--sign", "a.service"])
        }
        #expect(throws: CLIError.usage("flag --driver is not supported: only the API driver exists; fleetctl talks to fleetd, not to etcd")) {
            try rewrite(["--driver=etcd", "list-units"])
        }
        #expect(try rewrite(["--driver=API", "list-units"]) == ["list-units"])
        #expect(throws: CLIError.usage("FLEETCTL_ETCD_CAFILE is set, but --etcd-cafile is not supported: deprecated in fleet; use --ca-file")) {
            try rewrite(["list-units"], ["FLEETCTL_ETCD_CAFILE": "/etc/ca.pem"])
        }
        // The TLS files are global flags like the others, also from the environment.
        #expect(try rewrite(["list-units"], ["FLEETCTL_CA_FILE": "/etc/ca.pem"]) == ["list-units", "--ca-file=/etc/ca.pem"])
        // After `--` nothing is interpreted (ssh's remote command).
        #expect(try rewrite(["ssh", "m", "--", "ls", "--sign"]) == ["ssh", "m", "--", "ls", "--sign"])
    }

    @Test func endpoints() throws {
        #expect(try EndpointList.parse("unix:///var/run/fleet.sock, http://10.0.0.1:49153")
            == ["unix:///var/run/fleet.sock", "http://10.0.0.1:49153"])
        #expect(try EndpointList.parse("https://h:1") == ["https://h:1"])
        #expect(throws: CLIError.usage("endpoint tcp://h: expected unix:///path, http://host:port or https://host:port")) {
            try EndpointList.parse("tcp://h")
        }
        #expect(throws: CLIError.self) { try EndpointList.timeout(0) }
    }
}
