import Testing
@testable import Fleet

@Suite struct UnitFileTests {
    static let hello = "[Unit]\nDescription=Hello World\n\n[Service]\nExecStart=/bin/bash -c \"while true; do echo \\\"Hello, world\\\"; sleep 1; done\"\n"

    @Test func helloServiceHashMatchesFleet() throws {
        let unit = try UnitFile(parsing: Self.hello)
        #expect(unit.hash.hex == "e55c0aeb44ba0b68004ceb8a200e685194448b45")
        #expect(unit.hash.short == "e55c0ae")
        #expect(unit.serialized == Self.hello)
        #expect(unit.originalText == Self.hello)
    }

    @Test func commentsBlankLinesAndSpacingDoNotChangeTheHash() throws {
        let messy = """
            # a comment
            ; another
            [Unit]
              Description = Hello World   \r

            [Service]
            # inline in section
            ExecStart=/bin/bash -c "while true; do echo \\"Hello, world\\"; sleep 1; done"
            """
        let unit = try UnitFile(parsing: messy)
        #expect(unit.hash.hex == "e55c0aeb44ba0b68004ceb8a200e685194448b45")
        #expect(unit.originalText == messy)
        #expect(unit.serialized == Self.hello)
    }

    @Test func repeatedKeysAndSectionsKeepOrderAndMerge() throws {
        let unit = try UnitFile(parsing: "[Service]\nExecStartPre=a\n[Unit]\nAfter=x\n[Service]\nExecStartPre=b\n")
        #expect(unit.values(section: "Service", name: "ExecStartPre") == ["a", "b"])
        #expect(unit.sections == ["Service", "Unit"])
        #expect(unit.serialized == "[Service]\nExecStartPre=a\nExecStartPre=b\n\n[Unit]\nAfter=x\n")
        #expect(unit.options.map(\.line) == [2, 4, 6])
    }

    @Test func lineContinuations() throws {
        let unit = try UnitFile(parsing: "[Service]\nExecStart=/bin/foo \\\n    --bar \\\n  # skipped comment\n    --baz\nUser=core\n")
        let exec = unit.options[0]
        #expect(exec.value == "/bin/foo \\\n    --bar \\\n    --baz")
        #expect(exec.logicalValue == "/bin/foo      --bar      --baz")
        #expect(exec.line == 2)
        #expect(unit.options[1] == UnitOption(section: "Service", name: "User", value: "core"))
        #expect(unit.serialized == "[Service]\nExecStart=/bin/foo \\\n    --bar \\\n    --baz\nUser=core\n")
        // Re-parsing the canonical form is a fixed point.
        #expect(try UnitFile(parsing: unit.serialized).serialized == unit.serialized)
    }

    @Test func continuationEndedByBlankLineKeepsNewlineLikeFleet() throws {
        let unit = try UnitFile(parsing: "[Service]\nA=x \\\n\nB=y\n")
        #expect(unit.values(section: "Service", name: "A") == ["x \\\n"])
        #expect(unit.options[0].logicalValue == "x")
        let eof = try UnitFile(parsing: "[Service]\nA=x \\")
        #expect(eof.values(section: "Service", name: "A") == ["x \\"])
    }

    @Test func emptyValuesAndEqualsInValues() throws {
        let unit = try UnitFile(parsing: "[Service]\nEnvironment=A=b=c\nExecStartPre=\n")
        #expect(unit.values(section: "Service", name: "Environment") == ["A=b=c"])
        #expect(unit.values(section: "Service", name: "ExecStartPre") == [""])
    }

    @Test func quotesAndInlineHashesAreKeptVerbatim() throws {
        let unit = try UnitFile(parsing: "[Service]\nExecStart=/bin/echo \"a # b\" ; c\n")
        #expect(unit.values(section: "Service", name: "ExecStart") == ["/bin/echo \"a # b\" ; c"])
    }

    @Test func emptyTextHasNoOptions() throws {
        let unit = try UnitFile(parsing: "\n# nothing\n")
        #expect(unit.options.isEmpty)
        #expect(unit.serialized == "")
        #expect(unit.hash.hex == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    @Test(arguments: [
        ("Description=x\n[Unit]\n", UnitFileError.optionOutsideSection(line: 1, text: "Description=x")),
        ("[Unit]\nDescription=x\n[Service\nA=b\n", .invalidSectionHeader(line: 3, text: "[Service")),
        ("[Unit] # trailing\n", .invalidSectionHeader(line: 1, text: "[Unit] # trailing")),
        ("[]\n", .invalidSectionHeader(line: 1, text: "[]")),
        ("[Unit]\n\njunk line here\n", .missingEquals(line: 3, text: "junk line here")),
        ("[Unit]\n=value\n", .emptyOptionName(line: 2)),
        ("[Unit]\nTwo Words=value\n", .invalidOptionName(line: 2, name: "Two Words")),
        ("[Unit]\nA=\u{0}\n", .nulByte(line: 2)),
    ])
    func malformedFilesNameTheLine(text: String, expected: UnitFileError) {
        #expect(throws: expected) { try UnitFile(parsing: text) }
        #expect(expected.line != nil)
        #expect(expected.description.hasPrefix("line \(expected.line!):"))
    }

    @Test func unitFromOptionsMatchesParsedUnit() throws {
        let parsed = try UnitFile(parsing: Self.hello)
        let built = try UnitFile(options: parsed.options.map { UnitOption(section: $0.section, name: $0.name, value: $0.value) })
        #expect(built == parsed)
        #expect(built.hash == parsed.hash)
        #expect(built.originalText == nil)
        #expect(throws: UnitFileError.emptyField("section")) {
            try UnitFile(options: [UnitOption(section: "", name: "A", value: "b")])
        }
        // API options must serialise to a file that parses back identically.
        for bad in [
            UnitOption(section: "Service", name: "A", value: "line1\nline2"),
            UnitOption(section: "Ser]vice", name: "A", value: "b"),
            UnitOption(section: "Service", name: "A=B", value: "b"),
            UnitOption(section: "Service", name: "#A", value: "b"),
        ] {
            #expect(throws: UnitFileError.self) { try UnitFile(options: [bad]) }
        }
        let continued = try UnitFile(options: [UnitOption(section: "Service", name: "ExecStart", value: "/a \\\n  b")])
        #expect(try UnitFile(parsing: continued.serialized) == continued)
    }

    @Test func installSectionAndDescription() throws {
        let unit = try UnitFile(parsing: "[Unit]\nDescription=d\n[Install]\nWantedBy=multi-user.target\n")
        #expect(unit.hasInstallSection)
        #expect(unit.unitDescription == "d")
        #expect(try !UnitFile(parsing: Self.hello).hasInstallSection)
    }
}
