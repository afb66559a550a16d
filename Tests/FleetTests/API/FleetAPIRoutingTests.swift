import Foundation
import KV
import NIOHTTP1
import Testing
@testable import Fleet

/// Paths, methods, headers and the documents that do not depend on units.
@Suite struct FleetAPIRoutingTests {
    @Test func rootIs405UnknownIs404AndEveryAnswerNamesTheServer() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        let root = try await APITest.call(api, .GET, "/")
        #expect(root.status == 405)
        #expect(root.contentType == "application/json")
        #expect(root.headers.first(name: "Server") == "fleetd/v9.9.9")
        #expect(root.body == APITest.error(405, "no resource at /; the API lives under /fleet/v1"))

        let mount = try await APITest.call(api, .GET, "/fleet/v1")
        #expect(mount.status == 405)
        let unknown = try await APITest.call(api, .GET, "/fleet/v2/units")
        #expect(unknown.status == 404)
        #expect(unknown.body == APITest.error(404, "no such API resource: /fleet/v2/units"))
        #expect(unknown.headers.first(name: "Server") == "fleetd/v9.9.9")
        let deeper = try await APITest.call(api, .GET, "/fleet/v1/units/a.service/other")
        #expect(deeper.status == 404)
    }

    @Test func bothMountsServeTheSameResources() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        for mount in ["/fleet/v1", "/v1-alpha"] {
            let units = try await APITest.call(api, .GET, "\(mount)/units")
            #expect(units.status == 200)
            #expect(units.body == "{}")
            #expect(units.contentType == "application/json")
            let slash = try await APITest.call(api, .GET, "\(mount)/machines/")
            #expect(slash.status == 200)
            #expect(slash.body == "{}")
            let missing = try await APITest.call(api, .GET, "\(mount)/units/nope.service")
            #expect(missing.status == 404)
            #expect(missing.body == APITest.error(404, "unit does not exist"))
        }
    }

    @Test func wrongMethodsAre405WithTheAllowedOnes() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        let cases: [(HTTPMethod, String, String)] = [
            (.POST, "/fleet/v1/units", "only GET supported against this resource"),
            (.POST, "/fleet/v1/units/a.service", "only GET, PUT and DELETE supported against this resource"),
            (.DELETE, "/fleet/v1/machines", "only GET and PATCH supported against this resource"),
            (.PUT, "/fleet/v1/state", "only GET supported against this resource"),
            (.POST, "/fleet/v1/discovery", "only GET supported against the discovery document"),
            (.POST, "/fleet/v1/units/a.service/journal", "only GET supported against this resource"),
        ]
        for (method, path, message) in cases {
            let answer = try await APITest.call(api, method, path)
            #expect(answer.status == 405, "\(method) \(path)")
            #expect(answer.body == APITest.error(405, message))
        }
    }

    @Test func discoveryDocumentDescribesOurAPI() async throws {
        let (registry, _) = APITest.registry()
        let answer = try await APITest.call(APITest.responder(registry), .GET, "/fleet/v1/discovery")
        #expect(answer.status == 200)
        #expect(answer.contentType == "application/json")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        #expect(document["id"] as? String == "fleet:v1")
        #expect(document["kind"] as? String == "discovery#restDescription")
        let resources = try #require(document["resources"] as? [String: Any])
        let units = try #require((resources["Units"] as? [String: Any])?["methods"] as? [String: Any])
        #expect(Set(units.keys) == ["List", "Get", "Set", "Delete", "Status", "Journal"])
        let schemas = try #require(document["schemas"] as? [String: Any])
        #expect(schemas["UnitPage"] != nil && schemas["MachinePage"] != nil && schemas["UnitStatePage"] != nil)
    }

    @Test func metricsCountRequestsAndRegistryOperations() async throws {
        let (registry, _) = APITest.registry()
        let api = APITest.responder(registry)
        _ = try await APITest.call(api, .GET, "/fleet/v1/units")
        _ = try await APITest.call(api, .GET, "/fleet/v1/units")
        _ = try await APITest.call(api, .GET, "/fleet/v1/machines")
        _ = try await APITest.call(api, .GET, "/nowhere")
        let metrics = try await APITest.call(api, .GET, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.contentType == "text/plain; version=0.0.4")
        #expect(metrics.headers.first(name: "Server") == "fleetd/v9.9.9")
        let lines = Set(metrics.body.split(separator: "\n").map(String.init))
        #expect(lines.contains("# TYPE fleet_registry_operation_count_total counter"))
        #expect(lines.contains(#"fleet_registry_operation_count_total{operation="list_units"} 2"#))
        #expect(lines.contains(#"fleet_registry_operation_count_total{operation="list_machines"} 1"#))
        #expect(lines.contains(#"fleet_registry_operation_failed_count_total{operation="list_units"} 0"#))
        #expect(lines.contains(#"fleet_registry_operation_duration_second_count{operation="list_units"} 2"#))
        #expect(lines.contains(#"fleet_api_request_count_total{route="units",method="GET",code="200"} 2"#))
        #expect(lines.contains(#"fleet_api_request_count_total{route="not_found",method="GET",code="404"} 1"#))
        #expect(lines.contains(#"fleet_api_request_duration_second_count{route="units"} 2"#))
    }

    @Test func unreachableStoreIs503WithFleetsMessage() async throws {
        let (registry, store) = APITest.registry()
        let api = APITest.responder(registry)
        _ = try await APITest.call(api, .PUT, "/fleet/v1/units/a.service", json: APITest.putBody())
        store.unreachable = true
        let expected = APITest.error(503, "fleet server unable to communicate with etcd")
        let requests: [(HTTPMethod, String, String?)] = [
            (.GET, "/fleet/v1/units", nil), (.GET, "/fleet/v1/units/a.service", nil),
            (.GET, "/fleet/v1/machines", nil), (.GET, "/fleet/v1/state", nil), (.GET, "/fleet/v1/state/a.service", nil),
            (.DELETE, "/fleet/v1/units/a.service", nil),
            (.PUT, "/fleet/v1/units/a.service", APITest.putBody(desired: "launched", options: nil)),
            (.PATCH, "/fleet/v1/machines", #"[{"op":"add","path":"/m1/metadata/az","value":{"value":"z"}}]"#),
            (.GET, "/fleet/v1/units/a.service/status", nil),
        ]
        for (method, path, body) in requests {
            let answer = try await APITest.call(api, method, path, json: body)
            #expect(answer.status == 503, "\(method) \(path)")
            #expect(answer.body == expected, "\(method) \(path)")
        }
        let metrics = api.metrics.prometheusText()
        #expect(metrics.contains(#"fleet_registry_operation_failed_count_total{operation="list_units"} 1"#))
        store.unreachable = false
        #expect(try await APITest.call(api, .GET, "/fleet/v1/units/a.service").status == 200)
    }
}
