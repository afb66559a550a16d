#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// Echoes what it got, streams on /stream, sleeps on /slow.
struct EchoResponder: HTTPResponder {
    func respond(to request: HTTPRequest) async -> HTTPResponse {
        if request.path == "/stream" {
            return HTTPResponse(status: .ok, body: .stream { writer in
                for i in 0..<3 { try await writer.write("chunk\(i)\n") }
            })
        }
        if request.path == "/slow" {
            try? await Task.sleep(for: .seconds(5))
        }
        let form = (try? request.formValues().items.map { "\($0.name)=\($0.value)" }.joined(separator: ",")) ?? "bad form"
        return HTTPResponse(status: .ok, contentType: "text/plain", text: "\(request.method) \(request.path) \(form)")
    }

    func bodyTooLarge(_ request: HTTPRequest, limit: Int) -> HTTPResponse {
        HTTPResponse(status: .payloadTooLarge, contentType: "text/plain", text: "too large: \(limit)")
    }
}

@Suite struct HTTPServerTests {
    func withServer(_ address: HTTPListenAddress = .tcp(host: "127.0.0.1", port: 0), maxBody: Int = 1024,
                    _ body: (HTTPEndpoint) async throws -> Void) async throws {
        let server = try await HTTPServer.start(address: address, responder: EchoResponder(), maxBodySize: maxBody)
        let endpoint: HTTPEndpoint
        switch server.boundAddress {
        case .tcp(let host, let port), .https(let host, let port): endpoint = .tcp(host: host, port: port)
        case .unix(let path): endpoint = .unix(path: path)
        case .fileDescriptor: fatalError("not used")
        }
        do { try await body(endpoint) } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func getAndFormPost() async throws {
        try await withServer { endpoint in
            let client = HTTPClient()
            defer { client.shutdown() }
            let get = try await client.execute(.GET, endpoint, "/v2/keys/a%20b?recursive=true&x=1+2")
            #expect(get.status == .ok)
            #expect(get.bodyString == "GET /v2/keys/a b recursive=true,x=1 2")
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let put = try await client.execute(.PUT, endpoint, "/k?ttl=5", headers: headers,
                                               body: ByteBuffer(string: "value=hello%26bye"))
            #expect(put.bodyString == "PUT /k value=hello&bye,ttl=5")
            // Many requests over reused connections.
            for i in 0..<50 {
                let r = try await client.execute(.GET, endpoint, "/n\(i)")
                #expect(r.bodyString == "GET /n\(i) ")
            }
        }
    }

    @Test func oversizedBodyIsRefusedAndServerStaysUp() async throws {
        try await withServer(maxBody: 100) { endpoint in
            let client = HTTPClient()
            defer { client.shutdown() }
            let big = ByteBuffer(string: "value=" + String(repeating: "x", count: 200))
            let r = try await client.execute(.PUT, endpoint, "/k", body: big)
            #expect(r.status == .payloadTooLarge)
            #expect(r.bodyString == "too large: 100")
            let ok = try await client.execute(.GET, endpoint, "/after")
            #expect(ok.status == .ok)
        }
    }

    @Test func malformedRequestGets400AndServerStaysUp() async throws {
        try await withServer { endpoint in
            guard case .tcp(_, let port) = endpoint else { return }
            let reply = try RawHTTP.exchange(port: port, "THIS IS NOT HTTP\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 400"))
            let hugeHeader = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n"
            let reply2 = try RawHTTP.exchange(port: port, hugeHeader)
            #expect(reply2.hasPrefix("HTTP/1.1 4"))
            let client = HTTPClient()
            defer { client.shutdown() }
            #expect(try await client.execute(.GET, endpoint, "/still-up").status == .ok)
        }
    }

    @Test func streamedResponseArrivesInChunks() async throws {
        try await withServer { endpoint in
            let client = HTTPClient()
            defer { client.shutdown() }
            let (head, stream) = try await client.stream(.GET, endpoint, "/stream")
            #expect(head.status == .ok)
            var text = ""
            for try await chunk in stream { text += String(decoding: chunk.readableBytesView, as: UTF8.self) }
            #expect(text == "chunk0\nchunk1\nchunk2\n")
        }
    }

    @Test func unixSocketServer() async throws {
        let path = "/tmp/fleet-swift-http-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        try await withServer(.unix(path: path)) { endpoint in
            let client = HTTPClient()
            defer { client.shutdown() }
            let r = try await client.execute(.GET, .unix(path: path), "/over/unix")
            #expect(r.bodyString == "GET /over/unix ")
            #expect(endpoint == .unix(path: path))
        }
    }

    @Test func clientTimeoutAndConnectErrorsNameTheEndpoint() async throws {
        try await withServer { endpoint in
            let client = HTTPClient()
            defer { client.shutdown() }
            await #expect(throws: HTTPClientError.timedOut(endpoint, seconds: 0.2)) {
                _ = try await client.execute(.GET, endpoint, "/slow", timeout: 0.2)
            }
        }
        let client = HTTPClient()
        let closed = HTTPEndpoint.tcp(host: "127.0.0.1", port: 1)
        do {
            _ = try await client.execute(.GET, closed, "/", timeout: 2)
            Issue.record("expected a connect error")
        } catch let error as HTTPClientError {
            #expect(String(describing: error).contains("127.0.0.1:1"))
        }
    }

    @Test func endpointParsing() {
        #expect(HTTPEndpoint(url: "http://127.0.0.1:2379") == .tcp(host: "127.0.0.1", port: 2379))
        #expect(HTTPEndpoint(url: "http://10.0.0.1:4001/v2/keys") == .tcp(host: "10.0.0.1", port: 4001))
        #expect(HTTPEndpoint(url: "unix:///var/run/fleet.sock") == .unix(path: "/var/run/fleet.sock"))
        #expect(HTTPEndpoint(url: "http://[::1]:2379") == .tcp(host: "::1", port: 2379))
        #expect(HTTPEndpoint(url: "https://x:1") == nil)
        #expect(HTTPEndpoint(url: "http://x:notaport") == nil)
    }

    @Test func formDecoding() throws {
        #expect(URLEncoding.percentDecode("a%2Fb+c", plusAsSpace: true) == "a/b c")
        #expect(URLEncoding.percentDecode("a%zz", plusAsSpace: true) == nil)
        #expect(throws: URLEncodingError.self) { try URLEncoding.parseForm("a=%") }
        let items = try URLEncoding.parseForm("a=1&b&c=x%3Dy")
        #expect(items.map(\.name) == ["a", "b", "c"])
        #expect(items.map(\.value) == ["1", "", "x=y"])
        #expect(URLEncoding.percentEncode("a b/c") == "a%20b%2Fc")
    }
}

struct ChildError: Error { var message: String; init(_ m: String) { message = m } }
