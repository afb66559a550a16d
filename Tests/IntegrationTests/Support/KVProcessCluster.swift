#if canImport(Glibc)
import Glibc
#endif
import TestSupport

/// A cluster of `fleetd kv` processes on loopback ports, for tests that kill members for real.
final class KVProcessCluster: @unchecked Sendable {
    let size: Int
    let root: String
    let clientPorts: [Int]
    let peerPorts: [Int]
    var processes: [BackgroundProcess?]
    let token: String

    static var fleetd: String { Testbed.repositoryRoot + "/.build/debug/fleetd" }

    init(size: Int, snapshotCount: Int = 10_000) throws {
        self.size = size
        var template = Array("/tmp/fleet-swift-kvp-XXXXXX".utf8CString)
        root = String(cString: mkdtemp(&template)!)
        clientPorts = (0..<size).map { _ in freeLoopbackPort() }
        peerPorts = (0..<size).map { _ in freeLoopbackPort() }
        processes = Array(repeating: nil, count: size)
        token = "t\(UInt32.random(in: 0...UInt32.max))"
        self.snapshotCount = snapshotCount
        for i in 0..<size { try start(i) }
    }

    let snapshotCount: Int

    var clientURLs: [String] { clientPorts.map { "http://127.0.0.1:\($0)" } }

    func start(_ i: Int) throws {
        let cluster = (0..<size).map { "m\($0 + 1)=http://127.0.0.1:\(peerPorts[$0])" }.joined(separator: ",")
        processes[i] = try BackgroundProcess([
            Self.fleetd, "kv", "--name", "m\(i + 1)", "--data-dir", "\(root)/m\(i + 1)",
            "--listen-client-urls", clientURLs[i], "--advertise-client-urls", clientURLs[i],
            "--listen-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
            "--initial-cluster", cluster, "--initial-cluster-token", token,
            "--heartbeat-interval", "50", "--election-timeout", "500", "--snapshot-count", String(snapshotCount),
        ], logPath: "\(root)/m\(i + 1).log")
    }

    func kill(_ i: Int) {
        processes[i]?.kill()
        processes[i] = nil
    }

    /// Waits until `etcdctl cluster-health` says healthy through every member.
    func waitHealthy(seconds: Double = 20) throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        // Asked through every member in turn: right after boot a follower may not have applied the
        // last member's published client URLs yet, and etcdctl, sent to it, would find that member
        // "unreachable: no available published client urls" although another member says healthy.
        while ContinuousClock.now < deadline {
            let healthy = try clientURLs.allSatisfy { url in
                let r = try ChildProcess.run(["etcdctl", "--endpoints", url, "cluster-health"],
                                             environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
                return r.succeeded && r.stdout.contains("cluster is healthy")
            }
            if healthy { return }
            usleep(200_000)
        }
        throw ChildProcessError(description: "cluster not healthy in \(seconds) s; logs:\n" + logs())
    }

    func logs() -> String {
        processes.enumerated().map { "m\($0.offset + 1): " + ($0.element?.log().suffix(1500) ?? "(not running)") }
            .joined(separator: "\n")
    }

    func shutdown() {
        for i in 0..<size { processes[i]?.terminate(grace: 3) }
        _ = try? ChildProcess.run(["rm", "-rf", root])
    }
}
