#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// Answers: /later after a task hop (so a pipelined request arrives while it is pending), /none
/// with 204, /stream in chunks, anything else with its method and path.
private struct FramingResponder: HTTPResponder {
    func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        switch request.path {
        case "/later", "/stream": return nil
        case "/none": return HTTPResponse(status: .noContent, headers: ["X-Kind": "none"])
        default: return HTTPResponse(status: .ok, contentType: "text/plain", text: "\(request.method) \(request.path)")
        }
    }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        if request.path == "/stream" {
            return HTTPResponse(status: .ok, body: .stream { writer in
                try await writer.write("ab")
                writer.writeLast("cde")
            })
        }
        await Task.yield()
        return HTTPResponse(status: .ok, contentType: "text/plain", text: "later")
    }
}

/// The bytes on the wire of the server's answers: one buffer per answer, the framing rules of
/// NIO's encoder it replaced (HEAD, 204, HTTP/1.0, chunked streams), pipelining and the 400 for a
/// request that cannot be parsed.
@Suite struct HTTPServerFramingTests {
    private func withServer(_ body: (Int) throws -> Void) async throws {
        try await RawHTTP.withServer(FramingResponder()) { try body($0) }
    }

    private func exchange(_ port: Int, _ text: String) throws -> String { try RawHTTP.exchange(port: port, text) }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer { port in
            let reply = try exchange(port, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /now HTTP/1.1\r\nHost: x\r\n\r\n"
                + "PUT /last HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
            #expect(reply == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nlater"
                + "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nGET /now"
                + "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 9\r\n\r\nPUT /last")
        }
    }

    @Test func headKeepsTheLengthAndSendsNoBody() async throws {
        try await withServer { port in
            let reply = try exchange(port, "HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(reply == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 7\r\n\r\n")
        }
    }

    @Test func noContentHasNoLength() async throws {
        try await withServer { port in
            let reply = try exchange(port, "DELETE /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(reply == "HTTP/1.1 204 No Content\r\nX-Kind: none\r\nConnection: close\r\n\r\n")
        }
    }

    @Test func http10IsAnsweredIn10AndClosed() async throws {
        try await withServer { port in
            let reply = try exchange(port, "GET /old HTTP/1.0\r\n\r\n")
            #expect(reply == "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 8\r\n\r\nGET /old")
        }
    }

    @Test func streamedBodyIsChunked() async throws {
        try await withServer { port in
            let reply = try exchange(port, "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(reply == "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n")
        }
    }

    @Test func malformedRequestAfterAPendingOneIsRefusedAfterItsAnswer() async throws {
        try await withServer { port in
            let reply = try exchange(port, "GET /later HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
            #expect(reply == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nlater"
                + "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        }
    }
}
