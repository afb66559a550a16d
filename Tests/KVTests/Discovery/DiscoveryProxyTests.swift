import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// A minimal HTTP forward proxy: takes absolute-form requests (`GET http://host:port/path`), sends
/// them on to that host and counts them, so a test can see that discovery traffic went through it.
struct CountingForwardProxy: HTTPResponder {
    let client: HTTPClient
    let seen: NIOLockedValueBox<[String]>

    func respondImmediately(to request: HTTPRequest) -> HTTPResponse? { nil }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard request.uri.hasPrefix("http://"), let target = HTTPEndpoint(url: request.uri) else {
            return HTTPResponse(status: .badRequest, contentType: "text/plain", text: "not an absolute URI\n")
        }
        seen.withLockedValue { $0.append("\(request.method) \(request.uri)") }
        let afterScheme = request.uri.dropFirst("http://".count)
        let path = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        var headers = request.headers
        headers.remove(name: "Host")
        headers.remove(name: "Content-Length")
        do {
            let r = try await client.execute(request.method, target, path, headers: headers,
                                             body: request.body.readableBytes > 0 ? request.body : nil, timeout: 65)
            var out = r.headers
            out.remove(name: "Content-Length")
            out.remove(name: "Transfer-Encoding")
            return HTTPResponse(status: r.status, headers: out, body: .bytes(r.body))
        } catch {
            return HTTPResponse(status: .badGateway, contentType: "text/plain", text: "\(error)\n")
        }
    }

    func bodyTooLarge(_ request: HTTPRequest, limit: Int) -> HTTPResponse { HTTPResponse(status: .payloadTooLarge) }
}

@Suite(.serialized) struct DiscoveryProxyTests {
    @Test func discoveryTrafficGoesThroughTheDiscoveryProxy() async throws {
        let harness = try await DiscoveryHarness(size: 1)
        let client = HTTPClient()
        let seen = NIOLockedValueBox([String]())
        let forward = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: freeLoopbackPort()),
                                                 responder: CountingForwardProxy(client: client, seen: seen), maxBodySize: 1 << 20)
        var config = harness.config("solo")
        guard case .tcp(_, let port) = forward.boundAddress else { Issue.record("no port"); return }
        config.discoveryProxy = "http://127.0.0.1:\(port)"
        do {
            let node = try await KVNode.start(config: config, discoveryRetry: DiscoveryHarness.quickRetry)
            // The bootstrap entry is applied just after start: wait (bounded) for the one member.
            let formed = try await DiscoveryHarness.eventually { node.member?.members().count == 1 }
            #expect(formed)
            await node.shutdown()
        } catch {
            Issue.record("bootstrap through the discovery proxy failed: \(error)")
        }
        let requests = seen.withLockedValue { $0 }
        #expect(requests.contains { $0.hasPrefix("GET \(harness.url)/_config/size") }, "\(requests)")
        #expect(requests.contains { $0.hasPrefix("PUT \(harness.url)/") && $0.hasSuffix("?prevExist=false") }, "\(requests)")
        #expect(try await harness.registrations().count == 1)
        await forward.shutdown()
        client.shutdown()
        await harness.shutdown()
    }
}
