import KV
import NIOHTTP1
import Testing
@testable import Fleet

/// fleet's page tokens, byte for byte, and paging over units, machines and states.
@Suite struct FleetAPIPaginationTests {
    @Test func tokensAreLittleEndianLimitAndPageInBase64URL() throws {
        #expect(APIPageToken(limit: 100, page: 1).encoded == "ZAABAA==")
        #expect(APIPageToken(limit: 100, page: 2).encoded == "ZAACAA==")
        #expect(APIPageToken(limit: 0xfbff, page: 0xffff).encoded == "__v__w==")  // '_' and '-' alphabet
        #expect(try APIPageToken(decoding: "ZAACAA==") == APIPageToken(limit: 100, page: 2))
        #expect(try APIPageToken(decoding: "__v__w==") == APIPageToken(limit: 0xfbff, page: 0xffff))
        #expect(try APIPageToken(decoding: "ZAACAAAA") == APIPageToken(limit: 100, page: 2))  // extra bytes ignored
        #expect(throws: APIPageTokenError.notBase64URL("//v//w==")) { try APIPageToken(decoding: "//v//w==") }
        #expect(throws: APIPageTokenError.notBase64URL("***")) { try APIPageToken(decoding: "***") }
        #expect(throws: APIPageTokenError.tooShort("ZAA=", bytes: 2)) { try APIPageToken(decoding: "ZAA=") }
    }

    @Test func windowsMatchFleetsSlicing() {
        let first = APIPageToken(limit: 2, page: 1)
        #expect(first.window(total: 5).range == 0..<2)
        #expect(first.window(total: 5).next == APIPageToken(limit: 2, page: 2))
        #expect(APIPageToken(limit: 2, page: 3).window(total: 5).range == 4..<5)
        #expect(APIPageToken(limit: 2, page: 3).window(total: 5).next == nil)
        // A page ending exactly at the end still points at a (then empty) next page, as fleet did.
        #expect(APIPageToken(limit: 2, page: 2).window(total: 4).next == APIPageToken(limit: 2, page: 3))
        #expect(APIPageToken(limit: 2, page: 3).window(total: 4).range.isEmpty)
        #expect(APIPageToken(limit: 2, page: 3).window(total: 4).next == nil)
        #expect(first.window(total: 0).range.isEmpty)
    }

    @Test func badTokensAre400() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        for path in ["units", "machines", "state"] {
            var answer = try await APITest.call(api, .GET, "/fleet/v1/\(path)?nextPageToken=AQABAA==")  // limit 1
            #expect(answer.status == 400)
            #expect(answer.body == APITest.error(400, "token limit must be 100"))
            answer = try await APITest.call(api, .GET, "/fleet/v1/\(path)?nextPageToken=ZAAAAA==")  // page 0
            #expect(answer.body == APITest.error(400, "token page must be greater than zero"))
            answer = try await APITest.call(api, .GET, "/fleet/v1/\(path)?nextPageToken=%21%21")
            #expect(answer.body == APITest.error(400, #"page token \"!!\" is not base64url"#))
            answer = try await APITest.call(api, .GET, "/fleet/v1/\(path)?nextPageToken=ZAABAA%3D%3D&nextPageToken=ZAABAA%3D%3D")
            #expect(answer.body == APITest.error(400, "nextPageToken given more than once"))
        }
        let small = APITest.responder(registry, tokenLimit: 2)
        let answer = try await APITest.call(small, .GET, "/fleet/v1/units?nextPageToken=ZAABAA==")
        #expect(answer.body == APITest.error(400, "token limit must be 2"))
    }

    @Test func unitPagesFollowTokensAndReadOnlyTheirOwnUnits() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry, tokenLimit: 2)
        for i in 1...5 {
            let options = #"[{"section":"Service","name":"ExecStart","value":"/bin/sleep \#(i)"}]"#
            _ = try await APITest.call(api, .PUT, "/fleet/v1/units/u\(i).service", json: APITest.putBody(options: options))
        }
        let before = api.metrics.registryCount("read_units")
        var names: [String] = []
        var token: String? = nil
        var pages = 0
        repeat {
            let uri = "/fleet/v1/units" + (token.map { "?nextPageToken=\($0)" } ?? "")
            let answer = try await APITest.call(api, .GET, uri)
            #expect(answer.status == 200)
            let page = try APIJSON.decode(APIPage<APIUnit>.self, from: .init(string: answer.body))
            #expect(page.items.count <= 2)
            names += page.items.map(\.name)
            token = page.nextPageToken
            pages += 1
        } while token != nil && pages < 10
        #expect(names == (1...5).map { "u\($0).service" })
        #expect(pages == 3)
        #expect(api.metrics.registryCount("read_units") - before == 3)

        // The page reader fetches the contents of the units on the page only.
        let listing = try await registry.unitListing()
        #expect(listing.names.count == 5)
        let page = try await registry.resolveUnits(listing, names: listing.names[2..<4])
        #expect(page.units.map(\.stored.name) == ["u3.service", "u4.service"])
        #expect(page.problems.isEmpty)
    }

    /// Units u<i>.service, each with its own contents, launched through the API and scheduled on m1.
    static func launchScheduled(_ range: ClosedRange<Int>, _ api: FleetAPIResponder, _ registry: Registry) async throws {
        for i in range {
            let options = #"[{"section":"Service","name":"ExecStart","value":"/bin/sleep \#(i)"}]"#
            _ = try await APITest.call(api, .PUT, "/fleet/v1/units/u\(i).service", json: APITest.putBody(desired: "launched", options: options))
            try await registry.schedule("u\(i).service", on: "m1")
        }
    }

    @Test func aUnitPageReadsJobsOnceAndOnlyThePagesContentsAndStates() async throws {
        let (base, _) = APITest.registry()
        let store = RecordingStore(base.store)
        let registry = Registry(store: store, keys: base.keys)
        let api = APITest.responder(registry, tokenLimit: 2)
        try await Self.launchScheduled(1...6, api, registry)
        store.clear()
        let answer = try await APITest.call(api, .GET, "/fleet/v1/units?nextPageToken=AgACAA==")
        #expect(answer.body.contains("u3.service") && answer.body.contains("u4.service"))
        #expect(!answer.body.contains("u5.service") && !answer.body.contains("u2.service"))
        let keys = base.keys
        let recursive = store.reads.filter(\.recursive).map(\.key)
        #expect(recursive == [keys.jobsDirectory])
        let single = Set(store.reads.filter { !$0.recursive }.map(\.key))
        let u3 = try #require(try await base.unit("u3.service")).unit.hash
        let u4 = try #require(try await base.unit("u4.service")).unit.hash
        #expect(single == [keys.unitBlob(u3), keys.unitBlob(u4), keys.unitState("u3.service", machineID: "m1"),
                           keys.unitState("u4.service", machineID: "m1")])
    }

    @Test func aUnitPagesKeysAreReadConcurrently() async throws {
        let (base, _) = APITest.registry()
        let store = RecordingStore(base.store, readLatency: .milliseconds(20))
        let registry = Registry(store: store, keys: base.keys)
        let api = APITest.responder(registry, tokenLimit: 40)
        try await Self.launchScheduled(1...40, api, registry)
        store.clear()
        let answer = try await APITest.call(api, .GET, "/fleet/v1/units")
        #expect(answer.body.contains("u40.service"))
        // 40 contents and 40 states: one after another that was 80 reads of 20 ms in a row.
        #expect(store.reads.filter { !$0.recursive }.count == 80)
        #expect(store.mostReadsInFlight > 1)
    }

    @Test func machinePagesAndMetadataPatch() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry, tokenLimit: 2)
        for id in ["m3", "m1", "m2"] {
            try await registry.createMachine(MachineState(id: id, publicIP: "10.0.0.\(id.last!)", metadata: ["az": "a"]), ttl: 60)
        }
        let first = try await APITest.call(api, .GET, "/fleet/v1/machines")
        #expect(first.body == #"{"machines":[{"id":"m1","metadata":{"az":"a"},"primaryIP":"10.0.0.1"},{"id":"m2","metadata":{"az":"a"},"primaryIP":"10.0.0.2"}],"nextPageToken":"AgACAA=="}"#)
        let second = try await APITest.call(api, .GET, "/fleet/v1/machines?nextPageToken=AgACAA==")
        #expect(second.body == #"{"machines":[{"id":"m3","metadata":{"az":"a"},"primaryIP":"10.0.0.3"}]}"#)

        let ops = #"[{"op":"add","path":"/m1/metadata/disk","value":{"value":"ssd"}},{"op":"remove","path":"/m1/metadata/az"}]"#
        let patched = try await APITest.call(api, .PATCH, "/fleet/v1/machines", json: ops)
        #expect(patched.status == 204)
        #expect(try await registry.machine("m1")?.metadata == ["disk": "ssd"])

        // Every op is checked before any is applied.
        let bad = #"[{"op":"add","path":"/m2/metadata/x","value":{"value":"1"}},{"op":"add","path":"/m2/meta/x","value":{"value":"1"}}]"#
        var answer = try await APITest.call(api, .PATCH, "/fleet/v1/machines", json: bad)
        // `<` and `>` are escaped as Go's encoder does.
        #expect(answer.body == APITest.error(400, #"invalid path \"/m2/meta/x\"; expected /\u003cmachineID\u003e/metadata/\u003ckey\u003e with a key of [A-Za-z0-9_.-]"#))
        #expect(try await registry.machine("m2")?.metadata == ["az": "a"])
        answer = try await APITest.call(api, .PATCH, "/fleet/v1/machines", json: #"[{"op":"add","path":"/m2/metadata/x","value":"1"}]"#)
        #expect(answer.status == 400)
        #expect(answer.body.contains("unable to decode body"))
        answer = try await APITest.call(api, .PATCH, "/fleet/v1/machines", json: #"[{"op":"move","path":"/m2/metadata/x"}]"#)
        #expect(answer.body == APITest.error(400, #"invalid op \"move\" on /m2/metadata/x; expected add, replace or remove"#))
        answer = try await APITest.call(api, .PATCH, "/fleet/v1/machines", json: #"[{"op":"replace","path":"/m2/metadata/x"}]"#)
        #expect(answer.status == 400)
    }

    @Test func statesFilterSortAndPage() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry, tokenLimit: 2)
        func publish(_ unit: String, _ machine: String, _ sub: String) async throws {
            let record = UnitStateRecord(loadState: "loaded", activeState: "active", subState: sub,
                                         machineState: MachineState(id: machine), unitHash: "h-\(unit)")
            try await registry.publishUnitState(unit, machineID: machine, record, ttl: 60)
        }
        // Only the states of present machines are listed.
        try await registry.createMachine(MachineState(id: "m1"), ttl: 60)
        try await registry.createMachine(MachineState(id: "m2"), ttl: 60)
        try await publish("b.service", "m2", "running")
        try await publish("gone.service", "m9", "running")
        try await publish("a.service", "m2", "running")
        try await publish("a.service", "m1", "exited")
        let page1 = try await APITest.call(api, .GET, "/fleet/v1/state")
        #expect(page1.body == #"{"nextPageToken":"AgACAA==","states":[{"hash":"h-a.service","machineID":"m1","name":"a.service","systemdActiveState":"active","systemdLoadState":"loaded","systemdSubState":"exited"},{"hash":"h-a.service","machineID":"m2","name":"a.service","systemdActiveState":"active","systemdLoadState":"loaded","systemdSubState":"running"}]}"#)
        let page2 = try await APITest.call(api, .GET, "/fleet/v1/state?nextPageToken=AgACAA==")
        #expect(page2.body.contains(#""name":"b.service""#) && !page2.body.contains("nextPageToken"))
        let byMachine = try await APITest.call(api, .GET, "/fleet/v1/state?machineID=m2")
        #expect(byMachine.body.contains(#""machineID":"m2","name":"a.service""#))
        #expect(byMachine.body.contains(#""machineID":"m2","name":"b.service""#))
        #expect(!byMachine.body.contains(#""machineID":"m1""#))
        let byUnit = try await APITest.call(api, .GET, "/fleet/v1/state?unitName=b.service")
        #expect(byUnit.body == #"{"states":[{"hash":"h-b.service","machineID":"m2","name":"b.service","systemdActiveState":"active","systemdLoadState":"loaded","systemdSubState":"running"}]}"#)
        let one = try await APITest.call(api, .GET, "/fleet/v1/state/a.service")
        #expect(one.body.contains(#""machineID":"m1""#))
        let none = try await APITest.call(api, .GET, "/fleet/v1/state/c.service")
        #expect(none.body == APITest.error(404, "unit c.service has no published state"))
    }
}
