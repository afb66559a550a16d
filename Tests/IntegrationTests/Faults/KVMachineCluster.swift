#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization
import TestSupport
@testable import KV

/// `fleetd kv` members on testbed machines, one per machine, run as a transient systemd service
/// (`kv<N>.service`, a new N for every start, as a killed unit may linger for a moment) so that the
/// nemesis can SIGKILL, SIGSTOP and restart the real process.
///
/// Peers talk over the machines' bridge (where partitions happen); clients reach each member through
/// a Unix socket the member also listens on, opened from the host through `/proc/<pid>/root` (Unix
/// sockets do not belong to a network namespace). So a client is always "next to" its member, as in
/// Jepsen: a partition separates members, never a client from its member.
final class KVMachineCluster: Sendable {
    let bed: Testbed
    let token: String
    static let fleetd = Testbed.repositoryRoot + "/.build/debug/fleetd"
    /// `unix://kv-client:2379` listens on `kv-client:2379` in the working directory (etcd's rule).
    static let socketURL = "unix://kv-client:2379"
    static let socketPath = "/run/kv-client:2379"
    static let dataDir = "/var/lib/kv"

    /// Which machines are currently members (removed ones are not), by machine index.
    private let membership: Mutex<Set<Int>>
    /// The unit each machine's member runs in now, and the counter that names new ones.
    private let units: Mutex<(current: [Int: String], started: Int)> = Mutex(([:], 0))

    var machines: [TestMachine] { bed.machines }
    var size: Int { bed.machines.count }
    var currentMembers: Set<Int> { membership.withLock { $0 } }

    init(bed: Testbed) {
        self.bed = bed
        self.token = "flt\(UInt32.random(in: 0...UInt32.max))"
        self.membership = Mutex(Set(bed.machines.indices))
    }

    func name(_ i: Int) -> String { "m\(i + 1)" }
    func peerURL(_ i: Int) -> String { "http://\(machines[i].address):2380" }
    func clientURL(_ i: Int) -> String { "http://\(machines[i].address):2379" }
    func endpoint(_ i: Int) -> HTTPEndpoint { .unix(path: machines[i].rootPath + Self.socketPath) }

    /// Starts every member of a new cluster.
    func bootstrap() async throws {
        for i in machines.indices { try await start(i, joining: false) }
    }

    /// Starts member `i` (its data directory decides between restart and first start).
    /// `joining` starts a freshly added member of an existing cluster.
    func start(_ i: Int, joining: Bool) async throws {
        let members = currentMembers.union([i]).sorted()
        let cluster = members.map { "\(name($0))=\(peerURL($0))" }.joined(separator: ",")
        let unit = units.withLock { u in
            u.started += 1
            u.current[i] = "kv\(u.started).service"
            return u.current[i]!
        }
        let argv = [
            "systemd-run", "--unit=\(unit)", "--collect", "--quiet", "-p", "KillMode=process", "-p", "WorkingDirectory=/run",
            Self.fleetd, "kv", "--name", name(i), "--data-dir", Self.dataDir,
            "--listen-client-urls", "\(clientURL(i)),\(Self.socketURL)",
            "--advertise-client-urls", clientURL(i),
            "--listen-peer-urls", peerURL(i), "--initial-advertise-peer-urls", peerURL(i),
            "--initial-cluster", cluster, "--initial-cluster-token", token,
            "--initial-cluster-state", joining ? "existing" : "new",
        ]
        try await check(i, argv)
    }

    /// Sends `signal` (KILL, STOP, CONT, TERM) to the member's process.
    /// (Straight to the main PID: `systemctl kill` inside a container fails on the cgroup signal.)
    func signal(_ i: Int, _ signal: String) async throws {
        try await check(i, ["sh", "-c", "pid=$(systemctl show -p MainPID --value \(unit(i))) && [ \"$pid\" != 0 ] && kill -s \(signal) $pid"])
    }

    /// Whether the member's service is running (a killed member's service is gone).
    func isRunning(_ i: Int) async throws -> Bool {
        let r = try await run(i, ["systemctl", "is-active", unit(i)])
        return r.stdout.hasPrefix("active")
    }

    /// Waits until the member's service has exited after a kill (bounded).
    func waitStopped(_ i: Int, seconds: Double = 10) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while try await isRunning(i) {
            guard ContinuousClock.now < deadline else { throw FaultRunError.timeout("m\(i + 1) still running after \(seconds) s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Removes the member's data, so it can join again as a new member.
    func wipe(_ i: Int) async throws { try await check(i, ["rm", "-rf", Self.dataDir]) }

    private func unit(_ i: Int) -> String { units.withLock { $0.current[i] } ?? "kv0.service" }

    func markRemoved(_ i: Int) { _ = membership.withLock { $0.remove(i) } }
    func markAdded(_ i: Int) { _ = membership.withLock { $0.insert(i) } }

    /// The member's journal, for failure messages.
    func log(_ i: Int, lines: Int = 30) async -> String {
        (try? await run(i, ["journalctl", "-u", "kv*.service", "--no-pager", "-n", String(lines), "-o", "cat"]).stdout) ?? ""
    }

    @discardableResult
    func run(_ i: Int, _ argv: [String]) async throws -> ProcessResult {
        try await Testbed.runOffThread([Testbed.script, "exec", machines[i].name, "--"] + argv)
    }

    private func check(_ i: Int, _ argv: [String]) async throws {
        let r = try await run(i, argv)
        guard r.succeeded else { throw FaultRunError.command("\(argv.joined(separator: " ")) on m\(i + 1): \(r)") }
    }
}

/// Why a fault run could not go on (as opposed to a finding, which is reported).
enum FaultRunError: Error, CustomStringConvertible {
    case command(String)
    case timeout(String)

    var description: String {
        switch self {
        case .command(let s): "command failed: \(s)"
        case .timeout(let s): "timed out: \(s)"
        }
    }
}
