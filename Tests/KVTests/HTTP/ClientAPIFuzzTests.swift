#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
@testable import KV

/// Bad input against a real HTTPServer + ClientAPI over raw TCP: malformed request lines, huge
/// headers and bodies, invalid keys and parameters, and randomly mutated requests. The server must
/// never crash or hang, must answer bad parameters with etcd's JSON errors, and must go on serving.
@Suite struct ClientAPIFuzzTests {
    /// What came back on one connection.
    struct Reply {
        var text: String
        var closed: Bool
        /// The status code of the first response, if one came.
        var status: Int? {
            guard text.hasPrefix("HTTP/1.") else { return nil }
            let parts = text.split(separator: " ", maxSplits: 2)
            return parts.count >= 2 ? Int(parts[1]) : nil
        }
    }

    enum RawError: Error { case socket(String) }

    /// Sends `bytes` on a fresh connection and reads until one response is complete, the server closes,
    /// or `seconds` pass. Raw sockets, so the bytes go out exactly as given.
    /// `halfClose` shuts our side after sending, so a server waiting for the rest of a truncated
    /// request sees the end instead (it may then close without answering, which is fine).
    static func exchange(port: Int, _ bytes: [UInt8], seconds: Int = 10, halfClose: Bool = false) throws -> Reply {
        guard let fd = connectToLoopback(port: port, timeoutSeconds: seconds) else { throw RawError.socket("connect failed") }
        defer { close(fd) }
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: the server may close early (a too-large body); that is an answer, not a crash.
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !isCompleteResponse(out) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return Reply(text: String(decoding: out, as: UTF8.self), closed: true) }
            if n < 0 || out.count > 1 << 20 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return Reply(text: String(decoding: out, as: UTF8.self), closed: false)
    }

    /// A head and as much body as its Content-Length says (the server always sends one here).
    static func isCompleteResponse(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<end.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(line.dropFirst("content-length:".count).trimmingPrefix(" ")) else { return false }
        return text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length
    }

    /// A server with a small body limit, so huge bodies are cheap to send.
    func withAPI(_ body: (Int) throws -> Void) async throws {
        let backend = UnreplicatedBackend(name: "fuzz", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"])
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0),
                                                responder: ClientAPI(backend: backend, maxValueSize: 4096),
                                                maxBodySize: 64 * 1024, maxHeaderSize: 16 * 1024)
        guard case .tcp(_, let port) = server.boundAddress else {
            await server.shutdown()
            Issue.record("server is not on TCP")
            return
        }
        do { try body(port) } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    static func request(_ head: String, body: String = "") -> [UInt8] { Array((head + "\r\n\r\n" + body).utf8) }

    /// The server still answers a plain request correctly.
    func expectAlive(_ port: Int, after what: String) throws {
        let r = try Self.exchange(port: port, Self.request("GET /version HTTP/1.1\r\nHost: x\r\nConnection: close"))
        #expect(r.status == 200 && r.text.contains("etcdserver"), "server stopped answering after \(what): \(r.text.prefix(200))")
    }

    @Test func invalidKeysAndParametersGetEtcdErrors() async throws {
        try await withAPI { port in
            let form = "Content-Type: application/x-www-form-urlencoded"
            // (request, body, expected etcd errorCode); all 400 or 404 but "value too large", which is
            // etcd's 500 with errorCode 300 ("etcdserver: request is too large").
            let cases: [(String, String, Int)] = [
                ("PUT /v2/keys/a?ttl=abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 7", "value=1", 202),
                ("PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 13", "value=1&ttl=-", 202),
                ("PUT /v2/keys/a?prevIndex=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 7", "value=1", 203),
                ("GET /v2/keys/a?wait=true&waitIndex=nope HTTP/1.1\r\nHost: x\r\nConnection: close", "", 203),
                ("GET /v2/keys/a?recursive=maybe HTTP/1.1\r\nHost: x\r\nConnection: close", "", 209),
                ("PUT /v2/keys/a?prevExist=perhaps HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 7", "value=1", 209),
                ("GET /v2/keys/%zz HTTP/1.1\r\nHost: x\r\nConnection: close", "", 210),
                ("GET /v2/keys/nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close", "", 100),
                ("PUT /v2/keys/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 5006",
                 "value=" + String(repeating: "v", count: 5000), 300),
                ("DELETE /v2/keys/ HTTP/1.1\r\nHost: x\r\nConnection: close", "", 107),
                ("PUT /v2/keys/a?prevValue= HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 7", "value=1", 201),
            ]
            for (head, body, code) in cases {
                let r = try Self.exchange(port: port, Self.request(head, body: body))
                let line = head.prefix { $0 != "\r" }
                #expect(r.status.map { (400..<500).contains($0) || ($0 == 500 && code == 300) } == true, "\(line): \(r.text.prefix(300))")
                #expect(r.text.contains("\"errorCode\":\(code)"), "\(line): expected \(code), got \(r.text.prefix(300))")
            }
            try expectAlive(port, after: "invalid parameters")
        }
    }

    @Test func malformedHugeAndTruncatedRequestsAreRefusedAndTheServerGoesOn() async throws {
        try await withAPI { port in
            let hugeHeader = "GET /version HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "h", count: 200_000)
            let manyHeaders = "GET /version HTTP/1.1\r\nHost: x\r\n"
                + (0..<5000).map { "X-H\($0): v" }.joined(separator: "\r\n")
            let hugeBody = "PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000"
            let cases: [(String, [UInt8])] = [
                ("garbage", Array("\u{1}\u{2}\u{3} nonsense\r\n\r\n".utf8)),
                ("no version", Self.request("GET /v2/keys/a")),
                ("bad method", Self.request("FROB /v2/keys/a HTTP/1.1\r\nHost: x")),
                ("bad version", Self.request("GET /v2/keys/a HTTP/9.9\r\nHost: x")),
                ("NUL in path", Self.request("GET /v2/keys/a\u{0}b HTTP/1.1\r\nHost: x")),
                ("header without colon", Self.request("GET /v2/keys/a HTTP/1.1\r\nHost x")),
                ("huge header", Self.request(hugeHeader)),
                ("many headers", Self.request(manyHeaders)),
                ("huge body", Self.request(hugeBody, body: "value=" + String(repeating: "x", count: 999_994))),
                ("negative length", Self.request("PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: -5", body: "value")),
                ("two lengths", Self.request("PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7", body: "value=1")),
                ("truncated body", Self.request("PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nContent-Length: 100", body: "value=1")),
                ("bad chunk", Self.request("PUT /v2/keys/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", body: "zz\r\nvalue\r\n0\r\n\r\n")),
                ("huge path", Self.request("GET /v2/keys/" + String(repeating: "p/", count: 50_000) + " HTTP/1.1\r\nHost: x")),
                ("deep key", Self.request("GET /v2/keys" + String(repeating: "/d", count: 2000) + " HTTP/1.1\r\nHost: x")),
                ("empty", []),
            ]
            for (name, bytes) in cases {
                let r = try Self.exchange(port: port, bytes, halfClose: true)
                // Either a clear client error or a closed connection; never a server error or a hang.
                #expect(r.closed || r.status != nil, "\(name): no answer and no close")
                if let s = r.status { #expect(s < 500 || r.text.contains("\"errorCode\""), "\(name): \(r.text.prefix(300))") }
                try expectAlive(port, after: name)
            }
        }
    }

    @Test func mutatedRequestsNeverCrashTheServer() async throws {
        var rng = SplitMix64(seed: RunSeed.resolve("ClientAPI fuzz", variable: "FUZZ_SEED"))
        let form = "Content-Type: application/x-www-form-urlencoded"
        let templates: [[UInt8]] = [
            Self.request("PUT /v2/keys/dir/k?ttl=5&prevExist=false HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 9", body: "value=abc"),
            Self.request("GET /v2/keys/dir?recursive=true&sorted=true&quorum=true HTTP/1.1\r\nHost: x\r\nConnection: close"),
            Self.request("POST /v2/keys/queue?dir=false HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 7", body: "value=1"),
            Self.request("DELETE /v2/keys/dir?dir=true&recursive=true&prevIndex=3 HTTP/1.1\r\nHost: x\r\nConnection: close"),
            Self.request("PUT /v2/keys/k?prevValue=abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(form)\r\nContent-Length: 18", body: "value=x&refresh=tr"),
            Self.request("POST /v2/members HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 38", body: #"{"peerURLs":["http://127.0.0.1:2390"]}"#),
            Self.request("GET /v2/keys/a?wait=true&waitIndex=999999 HTTP/1.1\r\nHost: x\r\nConnection: close"),
        ]
        let alphabet = Array("%/?&=:\r\n\u{0}\u{ff} +-0123456789abcxyz\"{}[]".utf8)
        try await withAPI { port in
            var answered = 0
            for i in 0..<400 {
                var bytes = templates[Int(rng.next() % UInt64(templates.count))]
                for _ in 0..<(1 + Int(rng.next() % 6)) {
                    let at = Int(rng.next() % UInt64(max(bytes.count, 1)))
                    switch rng.next() % 5 {
                    case 0: if !bytes.isEmpty { bytes[at] = UInt8(truncatingIfNeeded: rng.next()) }
                    case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    case 2: if !bytes.isEmpty { bytes.remove(at: at) }
                    case 3: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 40)], at: at)
                    default: bytes = Array(bytes.prefix(at))
                    }
                }
                // Long waits are legitimate for watches; one second is enough to tell "no crash".
                let r = try Self.exchange(port: port, bytes, seconds: 1, halfClose: true)
                if let s = r.status {
                    answered += 1
                    #expect(s < 500 || r.text.contains("\"errorCode\""), "mutation \(i): \(r.text.prefix(300))")
                }
                if i % 50 == 49 { try expectAlive(port, after: "mutation \(i)") }
            }
            try expectAlive(port, after: "all mutations")
            #expect(answered > 50, "too few mutated requests got any answer: \(answered)")
        }
    }
}
