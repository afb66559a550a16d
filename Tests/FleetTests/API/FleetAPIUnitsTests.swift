import KV
import NIOHTTP1
import Testing
@testable import Fleet

/// `PUT`, `GET`, `DELETE /units/<name>` and `GET /units`: fleet's semantics and exact bodies, plus
/// our fixes (desiredState validated, templates instantiated server-side).
@Suite struct FleetAPIUnitsTests {
    static let helloJSON =
        #"{"currentState":"inactive","desiredState":"inactive","name":"hello.service","options":[{"name":"Description","section":"Unit","value":"Hello"},{"name":"ExecStart","section":"Service","value":"/bin/sleep 1000"}]}"#

    @Test func createGetAndListWithExactBodies() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        let created = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody())
        #expect(created.status == 201)
        #expect(created.body.isEmpty)
        #expect(created.headers.first(name: "Server") == "fleetd/v9.9.9")

        let got = try await APITest.call(api, .GET, "/fleet/v1/units/hello.service")
        #expect(got.status == 200)
        #expect(got.contentType == "application/json")
        #expect(got.body == Self.helloJSON)
        let listed = try await APITest.call(api, .GET, "/fleet/v1/units")
        #expect(listed.body == #"{"units":["# + Self.helloJSON + "]}")

        // What the registry holds is fleet's layout, so the engine and agents see it.
        let stored = try #require(try await registry.unit("hello.service"))
        #expect(stored.desiredState == .inactive)
        #expect(stored.unit.file.values(section: "Service", name: "ExecStart") == ["/bin/sleep 1000"])
    }

    @Test func currentStateAndMachineFollowFleetsRule() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        _ = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody(desired: "launched"))
        try await registry.schedule("hello.service", on: "m1")
        var unit = try await APITest.call(api, .GET, "/fleet/v1/units/hello.service")
        #expect(unit.body.contains(#""currentState":"inactive""#))  // scheduled, nothing published yet
        #expect(unit.body.contains(#""machineID":"m1""#))
        let record = UnitStateRecord(loadState: "loaded", activeState: "active", subState: "running",
                                     machineState: MachineState(id: "m1"), unitHash: "abc")
        try await registry.publishUnitState("hello.service", machineID: "m1", record, ttl: 30)
        unit = try await APITest.call(api, .GET, "/fleet/v1/units/hello.service")
        #expect(unit.body.contains(#""currentState":"loaded""#))
        try await registry.setHeartbeat("hello.service", machineID: "m1", ttl: 30)
        unit = try await APITest.call(api, .GET, "/fleet/v1/units/hello.service")
        #expect(unit.body.contains(#""currentState":"launched""#))

        // A global unit has neither currentState nor machineID.
        let global = #"[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"X-Fleet","name":"Global","value":"true"}]"#
        _ = try await APITest.call(api, .PUT, "/fleet/v1/units/mon.service", json: APITest.putBody(desired: "launched", options: global))
        let mon = try await APITest.call(api, .GET, "/fleet/v1/units/mon.service")
        #expect(mon.body == #"{"desiredState":"launched","name":"mon.service","options":[{"name":"ExecStart","section":"Service","value":"/bin/true"},{"name":"Global","section":"X-Fleet","value":"true"}]}"#)
    }

    @Test func putChangesDesiredStateWith204AndReplacesWith201() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        _ = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody())
        let update = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody(desired: "launched", options: nil))
        #expect(update.status == 204)
        #expect(try await registry.unit("hello.service")?.desiredState == .launched)
        // Same options again: only the desired state changes.
        let same = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody(desired: "loaded"))
        #expect(same.status == 204)
        #expect(try await registry.unit("hello.service")?.unit.desiredState == .loaded)
        // Other options: replaced (new hash), 201.
        let before = try #require(try await registry.unit("hello.service")).unit.hash
        let other = #"[{"section":"Service","name":"ExecStart","value":"/bin/sleep 5"}]"#
        let replaced = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody(desired: "launched", options: other))
        #expect(replaced.status == 201)
        let after = try #require(try await registry.unit("hello.service"))
        #expect(after.unit.hash != before)
        #expect(after.desiredState == .launched)
        #expect(after.unit.file.values(section: "Service", name: "ExecStart") == ["/bin/sleep 5"])
    }

    @Test func putErrorsAreFleetsStatusesWithClearMessages() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        let path = "/fleet/v1/units/hello.service"
        // 415 without a JSON content type.
        var answer = try await APITest.call(api, .PUT, path, json: APITest.putBody(), contentType: "text/plain")
        #expect(answer.status == 415)
        #expect(answer.body == APITest.error(415, #"only acceptable Content-Type is application/json, got \"text/plain\""#))
        answer = try await APITest.call(api, .PUT, path, json: APITest.putBody(), contentType: nil)
        #expect(answer.status == 415)
        answer = try await APITest.call(api, .PUT, path, json: APITest.putBody(), contentType: "application/json; charset=utf-8")
        #expect(answer.status == 201)
        try await registry.destroyUnit("hello.service")

        // 400: undecodable body, name mismatch, bad name, bad options, bad [X-Fleet].
        answer = try await APITest.call(api, .PUT, path, json: "{nope")
        #expect(answer.status == 400)
        #expect(answer.body.contains("unable to decode body"))
        answer = try await APITest.call(api, .PUT, path, json: #"{"name":"other.service","desiredState":"inactive"}"#)
        #expect(answer.body == APITest.error(400, #"name in URL \"hello.service\" differs from unit name in request body \"other.service\""#))
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/hello", json: APITest.putBody())
        #expect(answer.status == 400)
        #expect(answer.body.contains("has no type suffix"))
        answer = try await APITest.call(api, .PUT, path, json: APITest.putBody(options: #"[{"section":"","name":"A","value":"b"}]"#))
        #expect(answer.status == 400)
        let bad = #"[{"section":"X-Fleet","name":"MachineID","value":"m1"},{"section":"X-Fleet","name":"Global","value":"true"}]"#
        answer = try await APITest.call(api, .PUT, path, json: APITest.putBody(options: bad))
        #expect(answer.status == 400)

        // 409: new without options; existing without desiredState.
        answer = try await APITest.call(api, .PUT, path, json: APITest.putBody(options: nil))
        #expect(answer.body == APITest.error(409, "unit hello.service does not exist and options field empty"))
        _ = try await APITest.call(api, .PUT, path, json: APITest.putBody())
        answer = try await APITest.call(api, .PUT, path, json: APITest.putBody(desired: nil))
        #expect(answer.body == APITest.error(409, "must provide desiredState to update existing unit hello.service"))
    }

    @Test func desiredStateIsValidatedOnCreateAndUpdate() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        let message = APITest.error(400, #"invalid desiredState \"running\"; expected inactive, loaded or launched"#)
        var answer = try await APITest.call(api, .PUT, "/fleet/v1/units/a.service", json: APITest.putBody(desired: "running"))
        #expect(answer.status == 400)
        #expect(answer.body == message)
        #expect(try await registry.unit("a.service") == nil)
        _ = try await APITest.call(api, .PUT, "/fleet/v1/units/a.service", json: APITest.putBody())
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/a.service", json: APITest.putBody(desired: "running", options: nil))
        #expect(answer.body == message)
        // Nothing poisoned: the unit still lists.
        #expect(try await registry.unit("a.service")?.desiredState == .inactive)
        #expect(try await APITest.call(api, .GET, "/fleet/v1/units").body.contains("a.service"))
    }

    @Test func aDesiredStatePoisonedByFleetIsReportedAndRepairable() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        _ = try await APITest.call(api, .PUT, "/fleet/v1/units/a.service", json: APITest.putBody())
        // What fleet v1.0.0 wrote for `"desiredState":"running"` (its bug 6).
        try await registry.store.set(registry.keys.jobTargetState("a.service"), value: "running")
        var answer = try await APITest.call(api, .GET, "/fleet/v1/units/a.service")
        #expect(answer.status == 500)
        #expect(answer.body.contains(#"stored unit a.service is invalid: invalid desiredState \"running\""#))
        #expect(try await APITest.call(api, .GET, "/fleet/v1/units").body == "{}")
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/a.service", json: APITest.putBody(desired: "loaded", options: nil))
        #expect(answer.status == 204)
        answer = try await APITest.call(api, .GET, "/fleet/v1/units/a.service")
        #expect(answer.status == 200)
        #expect(answer.body.contains(#""desiredState":"loaded""#))
    }

    @Test func templatesCannotBeActivatedAndInstancesComeFromTheTemplate() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        let template = #"[{"section":"Service","name":"ExecStart","value":"/bin/echo %i"}]"#
        var answer = try await APITest.call(api, .PUT, "/fleet/v1/units/web@.service", json: APITest.putBody(desired: "launched", options: template))
        #expect(answer.body == APITest.error(400, #"cannot activate template \"web@.service\""#))
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/web@.service", json: APITest.putBody(desired: "inactive", options: template))
        #expect(answer.status == 201)
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/web@.service", json: APITest.putBody(desired: "loaded", options: nil))
        #expect(answer.body == APITest.error(400, #"cannot activate template \"web@.service\""#))

        // Server-side: an instance without options is made from the template.
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/web@1.service", json: APITest.putBody(desired: "launched", options: nil))
        #expect(answer.status == 201)
        let instance = try #require(try await registry.unit("web@1.service"))
        let templateUnit = try #require(try await registry.unit("web@.service"))
        #expect(instance.desiredState == .launched)
        #expect(instance.unit.hash == templateUnit.unit.hash)
        // Client-side (fleetctl's way): the instance carries the template's options.
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/web@2.service", json: APITest.putBody(desired: "loaded", options: template))
        #expect(answer.status == 201)
        #expect(try await registry.unit("web@2.service")?.unit.hash == templateUnit.unit.hash)
        // No template: still fleet's 409, saying what is missing.
        answer = try await APITest.call(api, .PUT, "/fleet/v1/units/db@1.service", json: APITest.putBody(options: nil))
        #expect(answer.body == APITest.error(409, "unit db@1.service does not exist and options field empty, and its template db@.service does not exist either"))
    }

    @Test func deleteIs204ThenMissingIs404() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        _ = try await APITest.call(api, .PUT, "/fleet/v1/units/a.service", json: APITest.putBody())
        let deleted = try await APITest.call(api, .DELETE, "/fleet/v1/units/a.service")
        #expect(deleted.status == 204)
        #expect(deleted.body.isEmpty)
        #expect(try await registry.unit("a.service") == nil)
        let again = try await APITest.call(api, .DELETE, "/fleet/v1/units/a.service")
        #expect(again.status == 404)
        #expect(again.body == APITest.error(404, "unit does not exist"))
    }

    @Test func unitNamesAreEscapedInPaths() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        let answer = try await APITest.call(api, .PUT, "/fleet/v1/units/a%5Cx2db.service", json: APITest.putBody())
        #expect(answer.status == 201)
        #expect(try await registry.unit(#"a\x2db.service"#) != nil)
    }
    /// What one unit costs the store: a create is three writes (contents, job object — created
    /// only if absent, so no read is needed first — and desired state); a desired-state change of
    /// an existing unit writes only the desired state, after the one lookup; a PUT with options of a
    /// unit that exists falls back to that lookup and changes nothing else.
    @Test func storeRequestsPerCreateAndPerDesiredStateChange() async throws {
        let (base, _) = APITest.registry()
        let store = RecordingStore(base.store)
        let registry = Registry(store: store, keys: base.keys)
        let api = APITest.responder(registry)
        let keys = base.keys
        let created = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody(desired: "launched"))
        #expect(created.status == 201)
        #expect(store.writes.count == 3)
        #expect(Array(store.writes.suffix(2)) == [keys.jobObject("hello.service"), keys.jobTargetState("hello.service")])
        #expect(store.reads.isEmpty)

        store.clear()
        let changed = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody(desired: "loaded", options: nil))
        #expect(changed.status == 204)
        #expect(store.writes == [keys.jobTargetState("hello.service")])
        #expect(store.reads.count <= 3)  // the unit's job directory, its contents, its state if scheduled
        #expect(try await registry.unit("hello.service")?.unit.desiredState == .loaded)

        // The same options again with another desired state: the conditional create finds the unit,
        // the lookup follows, and only the desired state changes (204, as fleet answers).
        store.clear()
        let again = try await APITest.call(api, .PUT, "/fleet/v1/units/hello.service", json: APITest.putBody(desired: "launched"))
        #expect(again.status == 204)
        #expect(store.writes.last == keys.jobTargetState("hello.service"))
        #expect(!store.reads.isEmpty)
        #expect(try await registry.unit("hello.service")?.unit.desiredState == .launched)
        #expect(api.metrics.registryCount("create_unit") == 1)
        #expect(api.metrics.registryCount("create_unit_existing") == 1)
    }

    /// Units with identical contents share one `unit/<hash>` blob: after the first create, the next
    /// ones skip the create-only blob write (it would be refused, yet cost a replicated write).
    @Test func identicalContentsWriteTheBlobOnce() async throws {
        let (base, _) = APITest.registry()
        let store = RecordingStore(base.store)
        let registry = Registry(store: store, keys: base.keys)
        let api = APITest.responder(registry)
        for name in ["a.service", "b.service", "c.service"] {
            let answer = try await APITest.call(api, .PUT, "/fleet/v1/units/\(name)", json: APITest.putBody(desired: "launched"))
            #expect(answer.status == 201)
        }
        let blobWrites = store.writes.filter { $0.hasPrefix(base.keys.unitBlobsDirectory + "/") }
        #expect(blobWrites.count == 1)
        #expect(store.writes.count == 3 + 2 + 2)
        for name in ["a.service", "b.service", "c.service"] {
            #expect(try await registry.unit(name)?.unit.desiredState == .launched)
        }
    }

    @Test func knownBlobsExpireAndStayBounded() {
        let known = KnownBlobs(lifetime: .seconds(30), capacity: 2)
        let t0 = ContinuousClock.now
        known.insert("x", now: t0)
        #expect(known.contains("x", now: t0 + .seconds(29)))
        #expect(!known.contains("x", now: t0 + .seconds(30)))
        #expect(!known.contains("y", now: t0))
        known.insert("x", now: t0)
        known.insert("y", now: t0)
        known.insert("z", now: t0)  // full: emptied, then z
        #expect(known.contains("z", now: t0))
        #expect(!known.contains("x", now: t0))
    }
}
