import Testing
@testable import Fleet

@Suite struct UnitNameTests {
    @Test func plainTemplateAndInstance() throws {
        let plain = try UnitName("hello.service")
        #expect(plain.prefix == "hello" && plain.instance == nil && plain.nameWithoutSuffix == "hello")
        #expect(!plain.isTemplate && !plain.isInstance && plain.template == nil)

        let template = try UnitName("web@.service")
        #expect(template.isTemplate && !template.isInstance)
        #expect(template.prefix == "web" && template.instance == "")
        #expect(try template.instantiated("8080").rawValue == "web@8080.service")

        let instance = try UnitName("web@8080.service")
        #expect(instance.isInstance && instance.prefix == "web" && instance.instance == "8080")
        #expect(instance.nameWithoutSuffix == "web@8080" && instance.suffix == "service")
        #expect(instance.template?.rawValue == "web@.service")

        #expect(try UnitName("a.b-c:d_e\\x2d.socket").prefix == "a.b-c:d_e\\x2d")
        #expect(try UnitName("backup@daily.timer").isInstance)
    }

    @Test(arguments: [
        ("", UnitNameError.empty),
        ("hello", .missingSuffix(name: "hello")),
        ("hello.", .missingSuffix(name: "hello.")),
        ("hello.exe", .invalidSuffix(name: "hello.exe", suffix: "exe")),
        ("foo@bar.mount", .invalidTemplateSuffix(name: "foo@bar.mount", suffix: "mount")),
        ("he llo.service", .invalidCharacter(name: "he llo.service", character: " ")),
        ("a/b.service", .invalidCharacter(name: "a/b.service", character: "/")),
        ("@foo.service", .emptyPrefix(name: "@foo.service")),
        (".service", .emptyPrefix(name: ".service")),
        ("a@b@c.service", .multipleAt(name: "a@b@c.service")),
    ])
    func invalidNames(name: String, expected: UnitNameError) {
        #expect(throws: expected) { try UnitName(name) }
    }

    @Test func lengthLimit() throws {
        let ok = String(repeating: "a", count: 248) + ".service"
        #expect(try UnitName(ok).rawValue.count == 256)
        let long = String(repeating: "a", count: 249) + ".service"
        #expect(throws: UnitNameError.tooLong(name: long, length: 257)) { try UnitName(long) }
    }

    @Test func everyFleetSuffixIsAccepted() throws {
        for suffix in UnitName.validSuffixes { _ = try UnitName("x.\(suffix)") }
        for suffix in UnitName.templateSuffixes { _ = try UnitName("x@y.\(suffix)") }
    }

    @Test func cliDefaultSuffix() {
        #expect(UnitName.defaultingSuffix("foo") == "foo.service")
        #expect(UnitName.defaultingSuffix("units/foo.service") == "foo.service")
        #expect(UnitName.defaultingSuffix("/abs/path/bar.socket") == "bar.socket")
        #expect(UnitName.defaultingSuffix("web@1") == "web@1.service")
        #expect(UnitName.defaultingSuffix("my.app") == "my.app.service")
        #expect(UnitName.defaultingSuffix("x.timer") == "x.timer")
    }

    @Test func errorMessagesAreActionable() {
        #expect(UnitNameError.missingSuffix(name: "foo").description.contains("foo.service"))
        #expect(UnitNameError.invalidSuffix(name: "a.exe", suffix: "exe").description.contains("service"))
    }
}

@Suite struct SpecifierTests {
    @Test func nameSpecifiers() throws {
        let instance = try UnitName("web@8080.service")
        #expect(Specifiers.expand("%n|%N|%p|%i", unit: instance) == "web@8080.service|web@8080|web|8080")
        let plain = try UnitName("db.service")
        #expect(Specifiers.expand("%n|%N|%p|%i", unit: plain) == "db.service|db|db|")
        let template = try UnitName("web@.service")
        #expect(Specifiers.expand("%p@*.service", unit: template) == "web@*.service")
    }

    @Test func machineSpecifiersAndEscapes() throws {
        let u = try UnitName("a@b.service")
        #expect(Specifiers.expand("%m/%H", unit: u) == "%m/%H")
        #expect(Specifiers.expand("%m/%H", unit: u, machineID: "abc", hostname: "node1") == "abc/node1")
        #expect(Specifiers.expand("100%% %i%%", unit: u) == "100% b%")
        #expect(Specifiers.expand("%u %x trailing%", unit: u) == "%u %x trailing%")
        #expect(Specifiers.referencesMachine("host=%H"))
        #expect(Specifiers.referencesMachine("%m"))
        #expect(!Specifiers.referencesMachine("%%m %%H %n"))
    }
}

@Suite struct GlobTests {
    @Test func matching() throws {
        #expect(try Glob("web@*.service").matches("web@1.service"))
        #expect(try !Glob("web@*.service").matches("web.service"))
        #expect(try Glob("*").matches(""))
        #expect(try Glob("a?c.service").matches("abc.service"))
        #expect(try !Glob("a?c.service").matches("ac.service"))
        #expect(try Glob("db[0-9].service").matches("db7.service"))
        #expect(try !Glob("db[!0-9].service").matches("db7.service"))
        #expect(try Glob("db[^0-9].service").matches("dbx.service"))
        #expect(try Glob("a\\*b").matches("a*b"))
        #expect(try !Glob("a\\*b").matches("axb"))
        #expect(try Glob("*a*b*c*").matches("xxaxxbxxcxx"))
        #expect(try !Glob("*a*b*c*").matches("xxaxxcxxbxx"))
        #expect(try Glob("exact.service").isLiteral)
        #expect(try Glob("exact.service").matches("exact.service"))
        #expect(try !Glob("exact.service").matches("exact.servicex"))
    }

    @Test func malformedPatterns() {
        #expect(throws: GlobError.self) { try Glob("db[0-9.service") }
        #expect(throws: GlobError.self) { try Glob("trailing\\") }
        #expect(throws: GlobError.self) { try Glob("a[]b") }
        #expect(throws: GlobError.self) { try Glob("a[z-a]b") }
    }
}
