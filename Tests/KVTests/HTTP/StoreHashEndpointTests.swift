import NIOCore
import NIOHTTP1
import Testing
@testable import KV

/// `GET /debug/store-hash`: the index and the hash of the store at that index, which the fault
/// suite compares across members to detect divergence.
@Suite struct StoreHashEndpointTests {
    @Test func reportsTheStoresIndexAndHashAndChangesWithWrites() async throws {
        let backend = UnreplicatedBackend(name: "h", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"])
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0), responder: ClientAPI(backend: backend))
        let client = HTTPClient()
        defer { client.shutdown() }
        do {
            guard case .tcp(let host, let port) = server.boundAddress else { throw HTTPClientError.connectionClosed(.unix(path: "")) }
            let endpoint = HTTPEndpoint.tcp(host: host, port: port)
            func hash() async throws -> (index: Double?, hash: String?) {
                let r = try await client.execute(.GET, endpoint, "/debug/store-hash", timeout: 10)
                #expect(r.status == .ok)
                let json = MiniJSON.parse(r.bodyString)
                return (json?["index"]?.numberValue, json?["hash"]?.stringValue)
            }
            let before = try await hash()
            #expect(before.index == Double(backend.store.currentIndex))
            #expect(before.hash == String(backend.store.hash(), radix: 16))

            _ = try await backend.propose(.set(key: "/a", value: "1", dir: false, ttl: nil, refresh: false))
            let after = try await hash()
            #expect(after.index == before.index.map { $0 + 1 })
            #expect(after.hash == String(backend.store.hash(), radix: 16))
            #expect(after.hash != before.hash)

            let post = try await client.execute(.POST, endpoint, "/debug/store-hash", timeout: 10)
            #expect(post.status == .methodNotAllowed)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }
}
