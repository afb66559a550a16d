import Testing
@testable import Fleet

@Suite struct XFleetOptionsTests {
    func parse(_ xfleet: String, name: String = "unit.service") throws(XFleetError) -> XFleetOptions {
        let file = try! UnitFile(parsing: "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\n" + xfleet)
        return try XFleetOptions(unit: file, name: try! UnitName(name))
    }

    @Test func noSectionMeansNoConstraints() throws {
        let o = try parse("")
        #expect(o.machineID == nil && o.machineOf.isEmpty && o.machineMetadata.isEmpty)
        #expect(o.conflicts.isEmpty && o.replaces.isEmpty && !o.isGlobal && o.warnings.isEmpty)
    }

    @Test func everyOption() throws {
        let id = String(repeating: "a", count: 32)
        #expect(try parse("MachineID=\(id)").machineID == id)
        #expect(try parse("MachineOf=db.service\nMachineOf=cache.service").machineOf == ["cache.service", "db.service"])
        let meta = try parse("MachineMetadata=region=us\nMachineMetadata=region=eu\nMachineMetadata=disk=ssd")
        #expect(meta.machineMetadata == [
            MetadataRequirement(key: "disk", values: ["ssd"]), MetadataRequirement(key: "region", values: ["eu", "us"]),
        ])
        #expect(try parse("Conflicts=web@*.service db*.service").conflicts.map(\.pattern) == ["web@*.service", "db*.service"])
        #expect(try parse("Replaces=old.service").replaces.map(\.pattern) == ["old.service"])
        #expect(try parse("Global=true").isGlobal)
    }

    @Test func multiValueQuotedMetadata() throws {
        let o = try parse("MachineMetadata=\"a=1\" \"b=2\" 'c=x y'")
        #expect(o.machineMetadata.map(\.key) == ["a", "b", "c"])
        #expect(o.machineMetadata[2].values == ["x y"])
        #expect(o.acceptsMetadata(["a": "1", "b": "2", "c": "x y"]))
        #expect(!o.acceptsMetadata(["a": "1", "b": "2"]))
        #expect(o.machineMetadata.first?.values == ["1"])
    }

    @Test func metadataMatchingIsOrWithinKeyAndAcrossKeys() throws {
        let o = try parse("MachineMetadata=region=us region=eu\nMachineMetadata=disk=ssd")
        #expect(o.acceptsMetadata(["region": "eu", "disk": "ssd"]))
        #expect(o.acceptsMetadata(["region": "us", "disk": "ssd", "other": "x"]))
        #expect(!o.acceptsMetadata(["region": "asia", "disk": "ssd"]))
        #expect(!o.acceptsMetadata(["region": "us"]))
    }

    @Test func globalTruthinessAndLastValueWins() throws {
        for v in ["true", "yes", "1", "on", "t", "TRUE", "Yes"] { #expect(try parse("Global=\(v)").isGlobal, "\(v)") }
        for v in ["false", "no", "0", "off", "f"] { #expect(try !parse("Global=\(v)").isGlobal, "\(v)") }
        #expect(try !parse("Global=true\nGlobal=false").isGlobal)
        #expect(try parse("Global=false\nGlobal=yes").isGlobal)
        #expect(throws: XFleetError.invalidBoolean(option: "Global", value: "maybe", line: 5)) { try parse("Global=maybe") }
    }

    @Test func deprecatedNamesWorkWithWarnings() throws {
        let o = try parse(
            "X-ConditionMachineOf=db.service\nX-ConditionMachineMetadata=a=b\nX-Conflicts=x*.service")
        #expect(o.machineOf == ["db.service"])
        #expect(o.machineMetadata == [MetadataRequirement(key: "a", values: ["b"])])
        #expect(o.conflicts.map(\.pattern) == ["x*.service"])
        #expect(o.warnings.count == 3)
        #expect(o.warnings[0].description == "line 5: X-ConditionMachineOf is deprecated; use MachineOf")
        #expect(try parse("X-ConditionMachineID=abcdef01").machineID == "abcdef01")
        #expect(throws: XFleetError.self) { try parse("X-ConditionMachineBootID=abc") }
    }

    @Test func unknownKeysAreWarnings() throws {
        let o = try parse("Bogus=1")
        #expect(o.warnings.map(\.description) == ["line 5: unknown [X-Fleet] option \"Bogus\" is ignored"])
    }

    @Test(arguments: [
        ("MachineID=abc\nMachineOf=x.service", "MachineID cannot be used with MachineOf"),
        ("MachineID=abc\nConflicts=x*", "MachineID cannot be used with Conflicts"),
        ("MachineID=abc\nGlobal=true", "MachineID cannot be used with Global"),
        ("MachineID=abc\nReplaces=x*", "MachineID cannot be used with Replaces"),
        ("Global=true\nMachineOf=x.service", "Global cannot be used with MachineOf"),
        ("Conflicts=a*\nReplaces=b*", "Conflicts cannot be used with Replaces"),
        ("Global=true\nReplaces=x*", "Global cannot be used with Replaces"),
        ("MachineOf=db.service\nConflicts=db*", "unresolvable requirements: peer \"db.service\" matches Conflicts \"db*\""),
        ("MachineOf=db.service\nReplaces=db.service", "unresolvable requirements: peer \"db.service\" matches Replaces \"db.service\""),
    ])
    func fleetValidationMessages(xfleet: String, message: String) {
        do {
            _ = try parse(xfleet)
            Issue.record("accepted \(xfleet)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func refusesWhatFleetSilentlyIgnored() throws {
        #expect(throws: XFleetError.invalidMetadata(value: "novalue", line: 5)) { try parse("MachineMetadata=novalue") }
        #expect(throws: XFleetError.invalidMetadata(value: "=x", line: 5)) { try parse("MachineMetadata==x") }
        #expect(throws: XFleetError.invalidMetadata(value: "k=", line: 5)) { try parse("MachineMetadata=k=") }
        #expect(throws: XFleetError.unbalancedQuote(option: "MachineMetadata", value: "\"a=1", line: 5)) {
            try parse("MachineMetadata=\"a=1")
        }
        #expect(throws: XFleetError.self) { try parse("Conflicts=web[.service") }
        #expect(throws: XFleetError.self) { try parse("MachineOf=not a unit") }
        #expect(throws: XFleetError.peerIsSelf(line: 5)) { try parse("MachineOf=%n") }
        #expect(throws: XFleetError.multipleMachineIDs(first: "a", second: "b", line: 6)) {
            try parse("MachineID=a\nMachineID=b")
        }
        // The same MachineID twice is fine.
        #expect(try parse("MachineID=a\nMachineID=a").machineID == "a")
    }

    @Test func errorsNameTheLine() {
        do {
            _ = try parse("Conflicts=ok*\n\nMachineMetadata=broken")
        } catch {
            #expect(error.description.hasPrefix("line 7: MachineMetadata value \"broken\""))
        }
    }

    @Test func specifiersInTemplateInstances() throws {
        let o = try parse("Conflicts=%p@*.service\nMachineOf=%p-data@%i.service", name: "web@3.service")
        #expect(o.conflicts.map(\.pattern) == ["web@*.service"])
        #expect(o.machineOf == ["web-data@3.service"])
        #expect(!o.conflicts(with: "web@3.service"))  // never itself
        #expect(o.conflicts(with: "web@4.service"))
        #expect(!o.conflicts(with: "api@4.service"))
        // The template itself validates too.
        #expect(try parse("Conflicts=%p@*.service", name: "web@.service").conflicts.map(\.pattern) == ["web@*.service"])
    }

    @Test func machineSpecifiersResolvePerMachine() throws {
        let o = try parse("MachineMetadata=host=%H\nConflicts=%H-*.service")
        #expect(o.isMachineDependent)
        let r = try o.resolved(machineID: "m1", hostname: "node1")
        #expect(!r.isMachineDependent)
        #expect(r.acceptsMetadata(["host": "node1"]) && !r.acceptsMetadata(["host": "node2"]))
        #expect(r.conflicts(with: "node1-x.service") && !r.conflicts(with: "node2-x.service"))
        #expect(try !parse("Conflicts=a*").isMachineDependent)
    }

    @Test func shortMachineID() throws {
        let o = try parse("MachineID=0123abcd")
        #expect(o.acceptsMachineID("0123abcd" + String(repeating: "f", count: 24)))
        #expect(!o.acceptsMachineID("0123abce" + String(repeating: "f", count: 24)))
        #expect(try parse("MachineID=0123").acceptsMachineID("0123") && !parse("MachineID=0123").acceptsMachineID("01234"))
    }

    @Test func continuationInXFleetValues() throws {
        let file = try UnitFile(parsing: "[X-Fleet]\nConflicts=a.service \\\n  b.service\n")
        let o = try XFleetOptions(unit: file, name: try UnitName("c.service"))
        #expect(o.conflicts.map(\.pattern) == ["a.service", "b.service"])
    }
}
