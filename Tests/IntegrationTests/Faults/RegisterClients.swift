import NIOCore
import NIOHTTP1
import Synchronization
import TestSupport
@testable import KV

/// The load of a fault run: clients that read (quorum), write and compare-and-swap a few register
/// keys through different members, and write unique keys whose acknowledgement is remembered (the
/// "no acknowledged write lost" check). Every register operation's invocation and completion is
/// recorded on one logical clock shared by all clients of this process.
final class RegisterClients: Sendable {
    static let registerKeys = ["k0", "k1", "k2"]
    static let registerPrefix = "/flt/reg/"
    static let logPrefix = "/flt/log"

    let cluster: KVMachineCluster
    let client = HTTPClient()
    let timeout: Double
    private let clock = Atomic<UInt64>(0)
    private let history = Mutex<[RegisterOperation]>([])
    private let acknowledged = Mutex<[String: String]>([:])
    /// The last value any client saw per key: CASes expect it, so that many of them can succeed.
    private let lastSeen = Mutex<[String: String]>([:])

    init(cluster: KVMachineCluster, timeout: Double = 2) {
        self.cluster = cluster
        self.timeout = timeout
    }

    var operations: [RegisterOperation] { history.withLock { $0 } }
    var acknowledgedLogWrites: [String: String] { acknowledged.withLock { $0 } }

    func tick() -> UInt64 { clock.add(1, ordering: .sequentiallyConsistent).newValue }

    /// Runs `count` clients until `deadline`; client `c` starts on member `c % size` and moves on to
    /// the next member when its member refuses connections.
    func run(clients count: Int, until deadline: ContinuousClock.Instant, seed: UInt64) async {
        await withTaskGroup(of: Void.self) { group in
            for c in 0..<count {
                group.addTask {
                    var rng = SplitMix64(seed: seed &+ UInt64(c) &* 0x9E37_79B9)
                    var member = c % self.cluster.size
                    var n = 0
                    while ContinuousClock.now < deadline {
                        n += 1
                        let refused = await self.step(client: c, member: member, n: n, rng: &rng)
                        if refused {
                            member = (member + 1) % self.cluster.size
                            try? await Task.sleep(for: .milliseconds(50))
                        }
                    }
                }
            }
        }
    }

    /// One operation; returns true when the member refused the connection.
    private func step(client c: Int, member: Int, n: Int, rng: inout SplitMix64) async -> Bool {
        let key = Self.registerKeys[Int(rng.next() % UInt64(Self.registerKeys.count))]
        let value = "c\(c)-\(n)"
        switch rng.next() % 20 {
        case 0..<8:
            return await read(client: c, member: member, key: key)
        case 8..<14:
            return await write(client: c, member: member, key: key, kind: .write(value))
        case 14..<18:
            let expected = lastSeen.withLock { $0[key] } ?? "none"
            return await write(client: c, member: member, key: key, kind: .cas(expected: expected, new: value))
        default:
            return await logWrite(member: member, key: "\(Self.logPrefix)/\(value)", value: value)
        }
    }

    /// A quorum read, recorded with its outcome (a read that did not answer is recorded too, as
    /// failed or unknown: the checker drops it, as it had no effect either way).
    @discardableResult
    func read(client c: Int, member: Int, key: String) async -> Bool {
        let invoked = tick()
        var observed: String?? = nil
        var outcome = RegisterOperation.Outcome.unknown
        var refused = false
        do {
            let r = try await client.execute(.GET, cluster.endpoint(member), "/v2/keys\(Self.registerPrefix)\(key)?quorum=true",
                                             timeout: timeout)
            let json = MiniJSON.parse(r.bodyString)
            if r.status == .ok, let v = json?["node"]?["value"]?.stringValue {
                observed = .some(v)
            } else if r.status == .notFound, json?["errorCode"]?.numberValue == 100 {
                observed = .some(nil)
            } else {
                outcome = .failed
            }
        } catch {
            refused = isRefused(error)
            if refused { outcome = .failed }
        }
        let completed = tick()
        if let observed {
            outcome = .ok
            if let v = observed { lastSeen.withLock { $0[key] = v } }
        }
        record(RegisterOperation(client: c, key: key, kind: .read(observed ?? nil), outcome: outcome,
                                 invoked: invoked, completed: completed))
        return refused
    }

    /// A write or CAS, recorded with its outcome: acknowledged, failed for sure, or unknown.
    private func write(client c: Int, member: Int, key: String, kind: RegisterOperation.Kind) async -> Bool {
        var query = ""
        let value: String
        switch kind {
        case .write(let v): value = v
        case .cas(let expected, let v): value = v; query = "?prevValue=\(expected)"
        case .read: return false
        }
        let invoked = tick()
        var outcome = RegisterOperation.Outcome.unknown
        var refused = false
        do {
            let r = try await put(member: member, path: "\(Self.registerPrefix)\(key)\(query)", value: value)
            let code = MiniJSON.parse(r.bodyString)?["errorCode"]?.numberValue
            if r.status == .ok || r.status == .created {
                outcome = .ok
                lastSeen.withLock { $0[key] = value }
            } else if code == 101 || code == 100 {
                outcome = .failed  // compare failed / key not found: the store refused it, nothing changed
            }
        } catch {
            refused = isRefused(error)
            if refused { outcome = .failed }
        }
        let completed = tick()
        record(RegisterOperation(client: c, key: key, kind: kind, outcome: outcome, invoked: invoked, completed: completed))
        return refused
    }

    /// A write of a unique key; remembered when acknowledged.
    private func logWrite(member: Int, key: String, value: String) async -> Bool {
        do {
            let r = try await put(member: member, path: key, value: value)
            if r.status == .ok || r.status == .created { acknowledged.withLock { $0[key] = value } }
            return false
        } catch {
            return isRefused(error)
        }
    }

    private func put(member: Int, path: String, value: String) async throws -> HTTPClientResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        return try await client.execute(.PUT, cluster.endpoint(member), "/v2/keys\(path)", headers: headers,
                                        body: ByteBuffer(string: "value=\(value)"), timeout: timeout)
    }

    private func record(_ op: RegisterOperation) { history.withLock { $0.append(op) } }

    /// A refused connection: nothing was sent, so the operation had no effect.
    private func isRefused(_ error: Error) -> Bool {
        if case .connectFailed = error as? HTTPClientError { return true }
        return false
    }

    func shutdown() { client.shutdown() }
}
