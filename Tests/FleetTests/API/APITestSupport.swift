import Foundation
import KV
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
@testable import Fleet

/// A registry over a fresh in-process store (no Raft, no network), and helpers to drive a
/// ``FleetAPIResponder`` directly.
enum APITest {
    static let prefix = "/api-test/fleet/"

    static func registry() -> (Registry, ControllableStore) {
        let backend = UnreplicatedBackend(name: "m1", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let store = ControllableStore(InProcessStoreClient(backend: backend))
        return (Registry(store: store, keys: RegistryKeyLayout(prefix: prefix)), store)
    }

    static func responder(
        _ registry: Registry, tokenLimit: UInt16 = 100, machineID: String? = nil,
        inspector: (any LocalUnitInspector)? = nil, forwardClient: HTTPClient? = nil,
        forwardTLSClient: HTTPClient? = nil
    ) -> FleetAPIResponder {
        FleetAPIResponder(
            registry: registry,
            configuration: FleetAPIConfiguration(
                tokenLimit: tokenLimit, version: "v9.9.9", localMachineID: machineID, inspector: inspector,
                forwardClient: forwardClient, forwardTLSClient: forwardTLSClient, forwardTimeout: 5))
    }

    /// What a test looks at: status, headers and the whole body as text.
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var contentType: String? { headers.first(name: "Content-Type") }
    }

    static func call(
        _ responder: FleetAPIResponder, _ method: HTTPMethod, _ uri: String, json: String? = nil,
        contentType: String? = "application/json"
    ) async throws -> Answer {
        var headers = HTTPHeaders()
        if json != nil, let contentType { headers.add(name: "Content-Type", value: contentType) }
        let request = HTTPRequest(method: method, uri: uri, headers: headers, body: ByteBuffer(string: json ?? ""))
        let response = await responder.respond(to: request)
        guard case .bytes(let buffer) = response.body else {
            Issue.record("expected a whole body for \(method) \(uri)")
            return Answer(status: Int(response.status.code), headers: response.headers, body: "")
        }
        return Answer(
            status: Int(response.status.code), headers: response.headers,
            body: String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    static let helloOptions = #"[{"section":"Unit","name":"Description","value":"Hello"},{"section":"Service","name":"ExecStart","value":"/bin/sleep 1000"}]"#

    static func putBody(desired: String? = "inactive", options: String? = helloOptions) -> String {
        var fields: [String] = []
        if let desired { fields.append(#""desiredState":"\#(desired)""#) }
        if let options { fields.append(#""options":\#(options)"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func error(_ code: Int, _ message: String) -> String {
        #"{"error":{"code":\#(code),"message":"\#(message)"}}"#
    }

    /// A fresh directory under /tmp for unix sockets.
    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/fleet-api-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        return String(cString: dir)
    }
}

/// A ``LocalUnitInspector`` that answers from memory; journal follow lines are pushed by the test.
final class FakeInspector: LocalUnitInspector {
    let machine: String
    private let followers = Mutex<[AsyncThrowingStream<String, any Error>.Continuation]>([])
    private let calls = Mutex<[String]>([])
    private let ended = Mutex(0)

    init(machine: String) { self.machine = machine }

    var requests: [String] { calls.withLock { $0 } }
    var followerCount: Int { followers.withLock { $0.count } }
    /// Followed journals whose reader went away (the server stopped consuming them).
    var endedFollowers: Int { ended.withLock { $0 } }

    func status(_ unit: String) async throws -> String {
        calls.withLock { $0.append("status \(unit)") }
        if unit.hasPrefix("broken") { throw CocoaError(.fileReadCorruptFile) }
        return "● \(unit) on \(machine)\n     Active: active (running)\n"
    }

    func journal(_ unit: String, lines: Int, follow: Bool) async throws -> AsyncThrowingStream<String, any Error> {
        calls.withLock { $0.append("journal \(unit) \(lines) \(follow)") }
        let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        for i in 0..<lines { continuation.yield("\(machine) \(unit) line \(i)") }
        if follow {
            continuation.onTermination = { _ in self.ended.withLock { $0 += 1 } }
            followers.withLock { $0.append(continuation) }
        } else {
            continuation.finish()
        }
        return stream
    }

    /// Sends a line to every follower.
    func push(_ line: String) { followers.withLock { for c in $0 { c.yield(line) } } }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass (bounded waits only). It returns
/// as soon as the condition holds: the bound only decides how long a broken test takes to fail, and
/// must not fail a correct one on a loaded machine (5 s did, for a journal relay, at load 8).
func eventually(_ seconds: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
