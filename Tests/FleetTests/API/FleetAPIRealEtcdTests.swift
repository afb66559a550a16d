import KV
import Testing
import TestSupport
@testable import Fleet

/// The API end to end on a real etcd (v2): client → unix socket → responder → EtcdV2Client → etcd,
/// and fleet's 503 once etcd is gone.
@Suite struct FleetAPIRealEtcdTests {
    @Test func unitsThroughTheClientAndThen503WhenEtcdStops() async throws {
        let etcd = try RealEtcd()
        let store = try EtcdV2Client(urls: etcd.clientURL, timeout: 1)
        let registry = Registry(store: store, keys: RegistryKeyLayout(prefix: "/api-etcd/fleet/"))
        let directory = try APITest.temporaryDirectory()
        let socket = directory + "/fleet.sock"
        let server = try await HTTPServer.start(
            address: .unix(path: socket), responder: APITest.responder(registry, tokenLimit: 2))
        defer {
            Task { await server.shutdown() }
            _ = try? ChildProcess.run(["rm", "-rf", directory])
        }
        let client = try FleetAPIClient(endpoints: ["unix://\(socket)"], requestTimeout: 5)
        let options = [APIUnitOption(section: "Service", name: "ExecStart", value: "/bin/true")]
        for name in ["c.service", "a.service", "b.service", "web@.service"] {
            try await client.createUnit(APIUnit(name: name, options: options, desiredState: "inactive"))
        }
        try await client.setDesiredState("web@7.service", to: "launched")  // from the template, server-side
        #expect(try await client.units().map(\.name) == ["a.service", "b.service", "c.service", "web@.service", "web@7.service"])
        #expect(try await client.unit("web@7.service")?.desiredState == "launched")
        // fleet's keys on etcd: the instance shares the template's blob.
        let template = try #require(try await registry.unit("web@.service"))
        let instance = try #require(try await registry.unit("web@7.service"))
        #expect(template.unit.hash == instance.unit.hash)

        etcd.process.kill()
        await #expect(throws: FleetAPIError.server(status: 503, message: "fleet server unable to communicate with etcd")) {
            _ = try await client.units()
        }
    }
}
