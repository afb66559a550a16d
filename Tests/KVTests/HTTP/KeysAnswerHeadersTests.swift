#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Testing
import TestSupport
@testable import KV

/// The exact header lines of `/v2/keys` answers on the wire (the API keeps them as a pre-encoded
/// block, not as `HTTPHeaders`): etcd's set and values, in a fixed order, with the framing headers
/// the server adds after them.
@Suite struct KeysAnswerHeadersTests {
    private static let fixed = "Access-Control-Allow-Headers: accept, content-type, authorization\r\n"
        + "Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n"
        + "Access-Control-Allow-Origin: *\r\n"
        + "Content-Type: application/json\r\n"

    private func withServer(_ body: (UnreplicatedBackend, Int) async throws -> Void) async throws {
        let backend = UnreplicatedBackend(name: "h", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"])
        try await RawHTTP.withServer(ClientAPI(backend: backend)) { try await body(backend, $0) }
    }

    private func exchange(_ port: Int, _ text: String) throws -> String { try RawHTTP.exchange(port: port, text) }

    /// Sets a key through the API (a PUT on its own connection).
    private func put(_ port: Int, _ key: String, _ value: String) throws {
        let form = "value=\(value)"
        let reply = try exchange(port, "PUT /v2/keys/\(key) HTTP/1.1\r\nHost: x\r\n"
            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(form.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + form)
        #expect(reply.hasPrefix("HTTP/1.1 201 Created\r\n"))
    }

    @Test func successfulReadCarriesTheFixedLinesThenTheIndexes() async throws {
        try await withServer { backend, port in
            try put(port, "a", "1")
            let index = backend.store.currentIndex
            let raft = backend.raftPosition
            let reply = try exchange(port, "GET /v2/keys/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let body = try #require(reply.split(separator: "\r\n\r\n", maxSplits: 1).last)
            #expect(reply == "HTTP/1.1 200 OK\r\n" + Self.fixed
                + "X-Etcd-Cluster-Id: \(MemberInfo.hex(backend.clusterID))\r\n"
                + "X-Etcd-Index: \(index)\r\nX-Raft-Index: \(raft.index)\r\nX-Raft-Term: \(raft.term)\r\n"
                + "Connection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            #expect(body.hasPrefix(#"{"action":"get","node":{"key":"/a","value":"1""#))
        }
    }

    @Test func errorAnswerHasNoRaftIndexes() async throws {
        try await withServer { backend, port in
            let reply = try exchange(port, "GET /v2/keys/missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let head = try #require(reply.split(separator: "\r\n\r\n", maxSplits: 1).first)
            #expect(head.hasPrefix("HTTP/1.1 404 Not Found\r\n" + Self.fixed
                + "X-Etcd-Cluster-Id: \(MemberInfo.hex(backend.clusterID))\r\n"
                + "X-Etcd-Index: \(backend.store.currentIndex)\r\nConnection: close\r\n"))
            #expect(!head.contains("X-Raft-"))
        }
    }

    @Test func headAnswerKeepsTheHeadersWithoutABody() async throws {
        try await withServer { backend, port in
            try put(port, "a", "1")
            let reply = try exchange(port, "HEAD /v2/keys/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n" + Self.fixed))
            #expect(reply.contains("X-Raft-Term: \(backend.raftPosition.term)\r\n"))
            #expect(reply.hasSuffix("\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
        }
    }
}
