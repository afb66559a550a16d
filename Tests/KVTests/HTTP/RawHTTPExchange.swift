#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport
@testable import KV

/// Tests that pin the server's bytes on the wire: a server on a loopback port, and an exchange of
/// raw bytes with it (no HTTP client in between that would parse, fix or hide them).
enum RawHTTP {
    /// Runs `body` with the port of a server for `responder`, and shuts the server down after.
    static func withServer(_ responder: some HTTPResponder, _ body: (Int) async throws -> Void) async throws {
        let server = try await HTTPServer.start(address: .tcp(host: "127.0.0.1", port: 0), responder: responder)
        guard case .tcp(_, let port) = server.boundAddress else { fatalError("bound to TCP") }
        do { try await body(port) } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    /// Sends `text` at once and returns everything the server answers until it closes the
    /// connection. The bound (10 s) only ends a hung exchange: the exchanges in these tests end with
    /// the server's close (a short bound failed runs on a loaded machine).
    static func exchange(port: Int, _ text: String) throws -> String {
        guard let fd = connectToLoopback(port: port, timeoutSeconds: 10) else { throw ChildError("connect failed") }
        defer { close(fd) }
        _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
