import Foundation
import Testing
@testable import Fleet

@Suite struct RegistryKeyLayoutTests {
    @Test func defaultLayoutMatchesFleet() throws {
        let k = RegistryKeyLayout()
        let hash = try #require(UnitHash(hex: "e55c0aeb44ba0b68004ceb8a200e685194448b45"))
        #expect(k.machineObject("m1") == "/_coreos.com/fleet/machines/m1/object")
        #expect(k.machineMetadata("m1", key: "az") == "/_coreos.com/fleet/machines/m1/metadata/az")
        #expect(k.jobObject("a.service") == "/_coreos.com/fleet/job/a.service/object")
        #expect(k.jobTargetState("a.service") == "/_coreos.com/fleet/job/a.service/target-state")
        #expect(k.jobTarget("a.service") == "/_coreos.com/fleet/job/a.service/target")
        #expect(k.jobHeartbeat("a.service") == "/_coreos.com/fleet/job/a.service/job-state")
        #expect(k.unitBlob(hash) == "/_coreos.com/fleet/unit/e55c0aeb44ba0b68004ceb8a200e685194448b45")
        #expect(k.unitState("a.service", machineID: "m1") == "/_coreos.com/fleet/states/a.service/m1")
        #expect(k.legacyUnitState("a.service") == "/_coreos.com/fleet/state/a.service")
        #expect(k.engineLease == "/_coreos.com/fleet/lease/engine-leader")
        #expect(k.engineVersion == "/_coreos.com/fleet/engine/version")
        #expect(k.jobsDirectory == "/_coreos.com/fleet/job")
    }

    @Test func prefixIsNormalisedAndKeysParseBack() throws {
        let k = RegistryKeyLayout(prefix: "custom/fleet")
        #expect(k.prefix == "/custom/fleet/")
        let hash = try #require(UnitHash(hex: String(repeating: "ab", count: 20)))
        let cases: [(String, RegistryKey)] = [
            (k.machineObject("m1"), .machineObject(machineID: "m1")),
            (k.machineMetadata("m1", key: "az"), .machineMetadata(machineID: "m1", key: "az")),
            (k.jobObject("u.service"), .jobObject(unit: "u.service")),
            (k.jobTargetState("u.service"), .jobTargetState(unit: "u.service")),
            (k.jobTarget("u.service"), .jobTarget(unit: "u.service")),
            (k.jobHeartbeat("u.service"), .jobHeartbeat(unit: "u.service")),
            (k.unitBlob(hash), .unitBlob(hash)),
            (k.unitState("u.service", machineID: "m1"), .unitState(unit: "u.service", machineID: "m1")),
            (k.legacyUnitState("u.service"), .legacyUnitState(unit: "u.service")),
            (k.engineLease, .engineLease), (k.engineVersion, .engineVersion),
        ]
        for (key, expected) in cases { #expect(k.parse(key) == expected, "\(key)") }
        #expect(k.parse("/_coreos.com/fleet/job/u.service/target") == nil)
        #expect(k.parse("/custom/fleet/job/u.service/bogus") == nil)
        #expect(k.parse("/custom/fleet/unit/nothex") == nil)
        // Empty components, a trailing slash, too deep or nothing after the prefix: not registry keys.
        for bad in ["/custom/fleet/job//target", "/custom/fleet/job/u.service/target/", "/custom/fleet/",
                    "/custom/fleet/machines/m1/metadata/a/b", "/custom/fleet/job/u.service", "/custom/fleet"] {
            #expect(k.parse(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct RegistryModelTests {
    @Test func machineStateJSONIsFleets() throws {
        let json = #"{"ID":"000000000000000000000000f1ee7001","PublicIP":"127.0.0.1","Metadata":{"az":"zone1"},"Capabilities":{"DISABLE_ENGINE":false,"GRPC":false},"Version":"v1.0.0"}"#
        let m = try RegistryJSON.decode(MachineState.self, from: json)
        #expect(m.id == "000000000000000000000000f1ee7001" && m.publicIP == "127.0.0.1")
        #expect(m.metadata == ["az": "zone1"] && m.capabilities?["GRPC"] == false && m.version == "v1.0.0")
        #expect(m.shortID == "00000000")
        let back = try RegistryJSON.encode(MachineState(id: "x"))
        #expect(back == #"{"Capabilities":null,"ID":"x","Metadata":null,"PublicIP":"","Version":""}"#)
        #expect(try RegistryJSON.decode(MachineState.self, from: back) == MachineState(id: "x"))
    }

    @Test func metadataOverrides() {
        let m = MachineState(id: "x", metadata: ["a": "1", "b": "2"])
        #expect(m.mergingMetadata(["a": "9", "b": "", "c": "3"]).metadata == ["a": "9", "c": "3"])
    }

    @Test func jobObjectHashIsAByteArray() throws {
        let unit = try RegistryUnit(name: "hello.service", text: UnitFileTests.hello, desiredState: .launched)
        let json = try RegistryJSON.encode(unit.jobObject)
        #expect(json.hasPrefix(#"{"Name":"hello.service","OriginalText":"[Unit]\nDescription=Hello World\n"#))
        #expect(json.contains(#""UnitHash":[229,92,10,235,68,186,11,104,0,76,235,138,32,14,104,81,148,68,139,69]}"#))
        #expect(try RegistryJSON.decode(JobObject.self, from: json) == unit.jobObject)
        #expect(unit.jobObject.originalText == UnitFileTests.hello)
        let fromFleet = try RegistryJSON.decode(JobObject.self, from: #"{"Name":"a.service","UnitHash":\#(Array(unit.hash.bytes))}"#)
        #expect(fromFleet.originalText == nil && fromFleet.unitHash == unit.hash)
        #expect(try !RegistryJSON.encode(fromFleet).contains("OriginalText"))
        #expect(try RegistryJSON.encode(unit.blob) == #"{"Raw":"[Unit]\nDescription=Hello World\n\n[Service]\nExecStart=\/bin\/bash -c \"while true; do echo \\\"Hello, world\\\"; sleep 1; done\"\n"}"#.replacingOccurrences(of: "\\/", with: "/"))
        #expect(try unit.blob.unitFile().hash == unit.hash)
    }

    @Test func unitStateAndLeaseJSON() throws {
        let json = #"{"loadState":"loaded","activeState":"active","subState":"running","machineState":{"ID":"m1","PublicIP":"","Metadata":null,"Capabilities":null,"Version":""},"unitHash":"e55c0aeb44ba0b68004ceb8a200e685194448b45"}"#
        let s = try RegistryJSON.decode(UnitStateRecord.self, from: json)
        #expect(s.machineState?.id == "m1" && s.subState == "running")
        #expect(try RegistryJSON.decode(UnitStateRecord.self, from: RegistryJSON.encode(s)) == s)
        #expect(try RegistryJSON.encode(s).hasPrefix(#"{"activeState":"active","loadState":"loaded","machineState":{"Capabilities":null,"ID":"m1""#))
        #expect(try RegistryJSON.encode(EngineLease(machineID: "m1")) == #"{"MachineID":"m1","Version":1}"#)
        #expect(try RegistryJSON.encode(MachineState(id: "x", hostname: "h", capacity: 3)).contains(#""Capacity":3"#))
    }

    @Test func desiredStateValidation() throws {
        #expect(try FleetState(validating: "launched") == .launched)
        #expect(throws: UnitValidationError.invalidDesiredState("running")) { try FleetState(validating: "running") }
        #expect(throws: UnitValidationError.cannotActivateTemplate("web@.service")) {
            try RegistryUnit(name: "web@.service", text: "[Service]\nExecStart=/x\n", desiredState: .launched)
        }
        #expect(UnitValidationError.cannotActivateTemplate("web@.service").description == "cannot activate template \"web@.service\"")
        _ = try RegistryUnit(name: "web@.service", text: "[Service]\nExecStart=/x\n", desiredState: .inactive)
        #expect(throws: UnitValidationError.self) { try RegistryUnit(name: "bad", text: "", desiredState: .inactive) }
        #expect(throws: UnitValidationError.file(.missingEquals(line: 2, text: "oops"))) {
            try RegistryUnit(name: "a.service", text: "[Unit]\noops\n", desiredState: .inactive)
        }
        #expect(throws: UnitValidationError.xFleet(.incompatible("MachineID", "Conflicts"))) {
            try RegistryUnit(name: "a.service", text: "[X-Fleet]\nMachineID=x\nConflicts=y*\n", desiredState: .inactive)
        }
    }

    @Test func instancesShareTheTemplateHash() throws {
        let text = "[Service]\nExecStart=/bin/web %i\n[X-Fleet]\nConflicts=%p@*.service\n"
        let template = try RegistryUnit(name: "web@.service", text: text, desiredState: .inactive)
        let instance = try RegistryUnit(name: "web@1.service", text: text, desiredState: .launched)
        #expect(template.hash == instance.hash)
        let made = try template.instantiate("7", desiredState: .launched)
        #expect(made.name.rawValue == "web@7.service" && made.hash == template.hash)
        #expect(made.options.conflicts.map(\.pattern) == ["web@*.service"])
        #expect(throws: UnitValidationError.name(.notATemplate(name: "web@1.service"))) {
            try instance.instantiate("2", desiredState: .launched)
        }
    }

    @Test func currentStateDerivation() {
        #expect(FleetState.current(target: nil, targetPublishedState: true, heartbeat: nil) == .inactive)
        #expect(FleetState.current(target: "m1", targetPublishedState: false, heartbeat: "m1") == .inactive)
        #expect(FleetState.current(target: "m1", targetPublishedState: true, heartbeat: nil) == .loaded)
        #expect(FleetState.current(target: "m1", targetPublishedState: true, heartbeat: "m2") == .loaded)
        #expect(FleetState.current(target: "m1", targetPublishedState: true, heartbeat: "m1") == .launched)
    }

    @Test func unitHashParsing() throws {
        #expect(UnitHash(hex: "E55C0AEB44BA0B68004CEB8A200E685194448B45")?.hex == "e55c0aeb44ba0b68004ceb8a200e685194448b45")
        #expect(UnitHash(hex: "e55c") == nil)
        #expect(UnitHash(hex: String(repeating: "g", count: 40)) == nil)
        #expect(UnitHash(bytes: [1, 2]) == nil)
    }
}
