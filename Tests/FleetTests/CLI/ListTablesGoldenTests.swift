import Testing
@testable import Fleet

/// The list commands' output, byte for byte (TABs included) against the fleet v1.0.0 samples in
/// the reference (fleet.md §1.3). The samples are excerpts with rows omitted, so the data below
/// includes one longer omitted unit that makes the UNIT column as wide as in the sample, and the
/// comparison drops that row.
@Suite struct ListTablesGoldenTests {
    static let machines = FakeFleetCluster.threeMachines
    static let m1 = "000000000000000000000000f1ee7001"
    static let m2 = "000000000000000000000000f1ee7002"
    static let m3 = "000000000000000000000000f1ee7003"
    static let hello = "[Unit]\nDescription=Hello World\n\n[Service]\nExecStart=/bin/bash -c \"while true; do echo \\\"Hello, world\\\"; sleep 1; done\"\n"

    static func unit(_ name: String, _ text: String, desired: String, current: String? = nil, machine: String? = nil)
        throws -> APIUnit
    {
        APIUnit(name: name, options: try UnitFile(parsing: text).apiOptions, desiredState: desired,
                currentState: current, machineID: machine)
    }

    static func state(_ name: String, _ machine: String, hash: String = "e55c0aeb44ba0b68004ceb8a200e685194448b45",
                      load: String = "loaded", active: String = "active", sub: String = "running") -> APIUnitState {
        APIUnitState(name: name, hash: hash, machineID: machine, systemdLoadState: load, systemdActiveState: active,
                     systemdSubState: sub)
    }

    /// Lines of `text` except those starting with `omitted`.
    static func without(_ omitted: String, _ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix(omitted) }
            .joined(separator: "\n")
    }

    @Test func listMachinesMatchesFleet() throws {
        let out = try ListTables.machines(Self.machines.reversed(), ListTables.Options())
        #expect(out.table == """
            MACHINE\t\tIP\t\tMETADATA
            00000000...\t127.0.0.1\taz=zone1,machine=m1
            00000000...\t127.0.0.2\taz=zone0,machine=m2
            00000000...\t127.0.0.3\taz=zone1,machine=m3

            """)
    }

    @Test func listUnitFilesMatchesFleet() throws {
        let monitor = "[Service]\nExecStart=/bin/monitor\n\n[X-Fleet]\nGlobal=true\n"
        let pinned = "[Service]\nExecStart=/bin/pinned\n\n[X-Fleet]\nMachineID=\(Self.m2)\n"
        let web = "[Service]\nExecStart=/bin/web %i\n"
        let units = [
            try Self.unit("web@1.service", web, desired: "launched", current: "launched", machine: Self.m2),
            try Self.unit("omitted-long.service", web, desired: "inactive", current: "inactive"),
            try Self.unit("hello.service", Self.hello, desired: "launched", current: "launched", machine: Self.m1),
            try Self.unit("monitor.service", monitor, desired: "launched"),
            try Self.unit("pinned.service", pinned, desired: "launched", current: "launched", machine: Self.m2),
            try Self.unit("web@.service", web, desired: "inactive", current: "inactive"),
        ]
        // Only hello.service's content is known from fleet's README; the others' hashes are ours.
        let monitorHash = try UnitFile(parsing: monitor).hash.short
        let pinnedHash = try UnitFile(parsing: pinned).hash.short
        let webHash = try UnitFile(parsing: web).hash.short
        let out = try ListTables.unitFiles(units, machines: Self.machines, ListTables.Options())
        #expect(Self.without("omitted-long", out.table) == """
            UNIT\t\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET
            hello.service\t\te55c0ae\tlaunched\tlaunched\t00000000.../127.0.0.1
            monitor.service\t\t\(monitorHash)\tlaunched\t-\t\tglobal
            pinned.service\t\t\(pinnedHash)\tlaunched\tlaunched\t00000000.../127.0.0.2
            web@.service\t\t\(webHash)\tinactive\tinactive\t-
            web@1.service\t\t\(webHash)\tlaunched\tlaunched\t00000000.../127.0.0.2

            """)
        #expect(out.warnings.isEmpty)
    }

    @Test func listUnitsMatchesFleet() throws {
        let states = [
            Self.state("monitor.service", Self.m3), Self.state("omitted-long.service", Self.m2),
            Self.state("monitor.service", Self.m1), Self.state("hello.service", Self.m1),
        ]
        let out = try ListTables.units(states, machines: Self.machines, ListTables.Options())
        #expect(Self.without("omitted-long", out.table) == """
            UNIT\t\t\tMACHINE\t\t\tACTIVE\tSUB
            hello.service\t\t00000000.../127.0.0.1\tactive\trunning
            monitor.service\t\t00000000.../127.0.0.1\tactive\trunning
            monitor.service\t\t00000000.../127.0.0.3\tactive\trunning

            """)
    }

    @Test func listUnitsFieldsAndFullMatchFleet() throws {
        let out = try ListTables.units(
            [Self.state("hello.service", Self.m1)], machines: Self.machines,
            ListTables.Options(full: true, fields: "unit,load,active,sub,hash,machine"))
        #expect(out.table == """
            UNIT\t\tLOAD\tACTIVE\tSUB\tHASH\t\t\t\t\t\tMACHINE
            hello.service\tloaded\tactive\trunning\te55c0aeb44ba0b68004ceb8a200e685194448b45\t000000000000000000000000f1ee7001/127.0.0.1

            """)
    }

    @Test func noLegendEmptyValuesAndGoneMachines() throws {
        let machines = [APIMachine(id: "abcdef0123456789", primaryIP: "")]
        let m = try ListTables.machines(machines, ListTables.Options(noLegend: true))
        #expect(m.table == "abcdef01...\t-\t-\n")
        // A unit state on a machine that left the cluster shows only the ID part.
        let u = try ListTables.units(
            [Self.state("a.service", "ffffffff00000000", active: "", sub: "")], machines: Self.machines,
            ListTables.Options(noLegend: true))
        #expect(u.table == "a.service\tffffffff...\t-\t-\n")
    }

    @Test func unitFilesOtherFieldsAndDeprecatedTmachine() throws {
        let units = [try Self.unit("hello.service", Self.hello, desired: "loaded", current: "loaded", machine: Self.m3)]
        let out = try ListTables.unitFiles(
            units, machines: Self.machines, ListTables.Options(full: true, fields: "unit,desc,global,tmachine"))
        #expect(out.table == """
            UNIT\t\tDESC\t\tGLOBAL\tTMACHINE
            hello.service\tHello World\tfalse\t000000000000000000000000f1ee7003/127.0.0.3

            """)
        #expect(out.warnings == ["WARNING: the \"tmachine\" field is deprecated; use \"target\" instead."])
    }

    @Test func unknownOrEmptyFieldsAreUsageErrors() throws {
        #expect(throws: CLIError.usage(
            "list-units: unknown field \"ip\" in --fields; valid fields: active,hash,load,machine,sub,unit")) {
            try ListTables.units([], machines: [], ListTables.Options(fields: "unit,ip"))
        }
        #expect(throws: CLIError.usage(
            "list-machines: --fields is empty; valid fields: machine,ip,metadata")) {
            try ListTables.machines([], ListTables.Options(fields: ""))
        }
        #expect(CLIError.usage("x").exitCode == .usage)
    }

    @Test func tabTableFollowsTabwriterPadding() {
        // width = (longest + 1) rounded up to 8; tabs = ceil((width - length) / 8); last column unpadded.
        let table = TabTable(rows: [["1234567", "x", "end"], ["12345678", "", "e"]])
        #expect(table.rendered() == "1234567\t\tx\tend\n12345678\t\te\n")
    }
}
