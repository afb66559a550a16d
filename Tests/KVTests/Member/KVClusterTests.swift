#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// A cluster of real members in this process, on loopback ports, with data directories on disk.
final class LoopbackCluster: @unchecked Sendable {
    var configs: [KVConfig] = []
    var running: [KVMember.Running?] = []
    let root: String
    let client = HTTPClient()

    init(size: Int, snapshotCount: UInt64 = 100_000, ttlGraceAfterElection: Int? = nil) async throws {
        var template = Array("/tmp/fleet-swift-kv-XXXXXX".utf8CString)
        root = String(cString: mkdtemp(&template)!)
        let ports = (0..<size).map { _ in (freeLoopbackPort(), freeLoopbackPort()) }
        let initial = KVInitialCluster(members: ports.enumerated().map { i, p in
            KVInitialCluster.Member(name: "m\(i + 1)", peerURLs: [KVURL(scheme: "http", host: "127.0.0.1", port: p.1)])
        })
        for (i, p) in ports.enumerated() {
            var c = Self.memberConfig(name: "m\(i + 1)", root: root, clientPort: p.0, peerPort: p.1)
            c.initialCluster = initial
            c.snapshotCount = snapshotCount
            if let ttlGraceAfterElection { c.ttlGraceAfterElection = ttlGraceAfterElection }
            configs.append(c)
        }
        running = Array(repeating: nil, count: size)
        try await withThrowingTaskGroup(of: (Int, KVMember.Running).self) { group in
            for i in 0..<size {
                let c = configs[i]
                group.addTask { (i, try await KVMember.start(config: c, logger: Logger(label: "m\(i + 1)"))) }
            }
            for try await (i, r) in group { running[i] = r }
        }
    }

    /// A member of this cluster's kind (loopback URLs, data under `root`, short timeouts); the
    /// caller sets the initial cluster.
    static func memberConfig(name: String, root: String, clientPort: Int, peerPort: Int) -> KVConfig {
        var c = KVConfig()
        c.name = name
        c.dataDir = "\(root)/\(name)"
        c.listenClientURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: clientPort)]
        c.advertiseClientURLs = c.listenClientURLs
        c.listenPeerURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: peerPort)]
        c.initialAdvertisePeerURLs = c.listenPeerURLs
        c.initialClusterToken = "test-\(root)"
        c.heartbeatInterval = 50
        c.electionTimeout = 500
        return c
    }

    func endpoint(_ i: Int) -> HTTPEndpoint { .tcp(host: "127.0.0.1", port: configs[i].listenClientURLs[0].port) }

    func put(_ i: Int, _ key: String, _ value: String, timeout: Double = 10) async throws -> HTTPClientResponse {
        var h = HTTPHeaders()
        h.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        return try await client.execute(.PUT, endpoint(i), "/v2/keys\(key)", headers: h,
                                        body: ByteBuffer(string: "value=\(value)"), timeout: timeout)
    }

    /// A PUT retried while the cluster answers "request timed out" (an election under load); a
    /// set is idempotent, so a retry after an unknown outcome is safe.
    func putRetrying(_ i: Int, _ key: String, _ value: String) async throws -> HTTPClientResponse {
        var last = try await put(i, key, value)
        for _ in 0..<5 where last.status == .internalServerError {
            try await Task.sleep(for: .milliseconds(200))
            last = try await put(i, key, value)
        }
        return last
    }

    func get(_ i: Int, _ key: String, quorum: Bool = false) async throws -> HTTPClientResponse {
        try await client.execute(.GET, endpoint(i), "/v2/keys\(key)\(quorum ? "?quorum=true" : "")", timeout: 10)
    }

    func leader() -> Int? {
        for (i, r) in running.enumerated() {
            if let m = r?.member, m.leaderID == m.memberID { return i }
        }
        return nil
    }

    func waitForLeader(seconds: Double = 10) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let l = leader() { return l }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ChildProcessError(description: "no leader within \(seconds) s")
    }

    func stop(_ i: Int) async {
        await running[i]?.shutdown()
        running[i] = nil
    }

    func restart(_ i: Int) async throws {
        running[i] = try await KVMember.start(config: configs[i], logger: Logger(label: "m\(i + 1)"))
    }

    func shutdown() async {
        for i in running.indices { await stop(i) }
        client.shutdown()
        _ = try? ChildProcess.run(["rm", "-rf", root])
    }
}

@Suite(.serialized) struct KVClusterTests {
    @Test func threeMembersReplicateAndStartAtEtcdsIndexes() async throws {
        let cluster = try await LoopbackCluster(size: 3)
        do {
            _ = try await cluster.waitForLeader()
            // Founders' records (3), the cluster version (1), each member's attributes (3): etcd's 7.
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline,
                  cluster.running.compactMap({ $0?.member }).contains(where: { $0.members().contains { $0.name.isEmpty } }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let first = try await cluster.put(0, "/message", "hello")
            #expect(first.status == .created)
            #expect(first.bodyString.contains(#""modifiedIndex":8"#), "\(first.bodyString)")
            // Linearizable read on another member sees it; a local read too once applied.
            let q = try await cluster.get(2, "/message", quorum: true)
            #expect(q.bodyString.contains(#""value":"hello""#))
            // All members list each other by name with client URLs.
            let members = cluster.running[1]!.member.members()
            #expect(members.map(\.name).sorted() == ["m1", "m2", "m3"])
            // Same store on every member at the same index.
            try await Task.sleep(for: .milliseconds(200))
            let hashes = Set(cluster.running.compactMap { $0?.member.store.hash() })
            #expect(hashes.count == 1)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test func leaderLossElectsAnotherAndRestartCatchesUp() async throws {
        let cluster = try await LoopbackCluster(size: 3, snapshotCount: 50)
        do {
            let leader = try await cluster.waitForLeader()
            for i in 0..<120 {
                let r = try await cluster.putRetrying(i % 3, "/k\(i % 10)", "v\(i)")
                #expect(r.status.code < 300)
            }
            await cluster.stop(leader)
            let next = try await cluster.waitForLeader()
            #expect(next != leader)
            let other = (0..<3).first { $0 != leader && $0 != next }!
            for i in 0..<60 {
                let r = try await cluster.putRetrying(other, "/after\(i % 5)", "w\(i)")
                #expect(r.status.code < 300)
            }
            // The old leader restarts from its WAL and snapshots and catches up.
            try await cluster.restart(leader)
            let deadline = ContinuousClock.now + .seconds(15)
            var caughtUp = false
            while ContinuousClock.now < deadline {
                let r = try await cluster.get(leader, "/after4")
                if r.bodyString.contains(#""value":"w59""#) { caughtUp = true; break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(caughtUp)
            if !caughtUp {
                for r in cluster.running.compactMap({ $0 }) {
                    let m = r.member
                    print("member \(m.memberName): position \(m.raftPosition) leader \(m.leaderID ?? 0) store index \(m.store.currentIndex) \(m.selfStatsJSON())")
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            let hashes = Set(cluster.running.compactMap { $0?.member.store.hash() })
            #expect(hashes.count == 1)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A key whose TTL runs out while the cluster has no leader is not expired the moment a new
    /// leader is elected (nobody could refresh it meanwhile): it lives through the new leader's grace
    /// (`ttlGraceAfterElection`, 6 s here), then expires if still not refreshed.
    @Test func aNewLeaderGivesTTLKeysAGraceBeforeExpiringThem() async throws {
        let cluster = try await LoopbackCluster(size: 3, ttlGraceAfterElection: 6000)
        do {
            let leader = try await cluster.waitForLeader()
            let written = ContinuousClock.now
            let put = try await cluster.putRetrying(leader, "/lease", "owner&ttl=1")
            #expect(put.status == .created, "\(put.bodyString)")
            await cluster.stop(leader)
            let next = try await cluster.waitForLeader()
            let elected = ContinuousClock.now
            // Past the key's TTL (1 s), inside the new leader's grace.
            try await Task.sleep(until: written + .milliseconds(1500), clock: .continuous)
            let during = try await cluster.get(next, "/lease")
            let checked = ContinuousClock.now - elected
            #expect(during.status == .ok, "expired \(checked) after the election: \(during.bodyString)")
            #expect(checked < .seconds(5), "the check came too late to mean anything: \(checked) after the election")
            // Not refreshed: it expires once the grace is over.
            let deadline = ContinuousClock.now + .seconds(30)
            var gone = false
            while !gone, ContinuousClock.now < deadline {
                gone = try await cluster.get(next, "/lease").status == .notFound
                if !gone { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(gone, "the key outlived the grace")
            #expect(ContinuousClock.now - elected >= .seconds(5), "expired before the grace was over")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// Why the grace after an election can be short: a refresh sent to a member that knows it has no
    /// leader is not lost. It waits in that member and commits once a leader is elected, so an owner
    /// that kept refreshing through the election keeps its key even when the key's own TTL ran out
    /// meanwhile and the grace (3 s here) is long over. (Before the member notices that its leader
    /// is gone it forwards proposals to it and they are lost: fleetd's presence therefore gives up
    /// on a refresh after 1 s and sends another, see `DaemonPresenceRetryTests`.)
    @Test func aRefreshSentWithoutALeaderCommitsAfterTheElection() async throws {
        let cluster = try await LoopbackCluster(size: 3, ttlGraceAfterElection: 3000)
        do {
            let leader = try await cluster.waitForLeader()
            let written = ContinuousClock.now
            let put = try await cluster.putRetrying(leader, "/owned", "owner&ttl=2")
            #expect(put.status == .created, "\(put.bodyString)")
            // Quorum lost: the remaining member cannot elect a leader until another one comes back.
            let kept = (leader + 1) % 3
            let other = (leader + 2) % 3
            await cluster.stop(leader)
            await cluster.stop(other)
            // Until the member notices, it forwards proposals to the stopped leader.
            let noticed = ContinuousClock.now + .seconds(30)
            while cluster.running[kept]?.member.leaderID != nil, ContinuousClock.now < noticed {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(cluster.running[kept]?.member.leaderID == nil, "the member never noticed its leader was gone")
            var h = HTTPHeaders()
            h.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let refresh = Task {
                try await cluster.client.execute(.PUT, cluster.endpoint(kept), "/v2/keys/owned", headers: h,
                                                 body: ByteBuffer(string: "ttl=30&refresh=true&prevExist=true"),
                                                 timeout: 30)
            }
            // The key's own TTL (2 s) runs out while there is no leader.
            try await Task.sleep(until: max(written + .seconds(3), ContinuousClock.now + .seconds(1)), clock: .continuous)
            #expect(cluster.leader() == nil, "a leader without quorum")
            try await cluster.restart(leader)
            _ = try await cluster.waitForLeader(seconds: 30)
            let elected = ContinuousClock.now
            // Well past the grace: had the refresh been lost, the key would be gone by now.
            try await Task.sleep(until: elected + .seconds(6), clock: .continuous)
            let after = try await cluster.get(kept, "/owned")
            #expect(after.status == .ok, "the refresh sent without a leader was lost: \(after.bodyString)")
            _ = try? await refresh.value
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A follower forwards a proposal to the leader it knows; when that leader is dead the proposal
    /// is lost. Its waiter is answered "request timed out" as soon as the follower stops following
    /// that leader (within an election timeout or two), not after the whole request timeout (6 s
    /// here), so a retry reaches the next leader in time (presence refreshes, lease renewals).
    @Test func aProposalForwardedToADeadLeaderIsAnsweredWhenTheLeaderChanges() async throws {
        let cluster = try await LoopbackCluster(size: 3)
        do {
            let leader = try await cluster.waitForLeader()
            let follower = (leader + 1) % 3
            #expect(try await cluster.putRetrying(follower, "/k", "before").status == .created)
            await cluster.stop(leader)
            let sent = ContinuousClock.now
            let r = try await cluster.put(follower, "/k", "during", timeout: 30)
            let waited = ContinuousClock.now - sent
            if r.status == .internalServerError {
                #expect(r.bodyString.contains(#""errorCode":300"#), "\(r.bodyString)")
                #expect(waited < .seconds(3), "answered after \(waited), the request timeout is 6 s")
            } else {
                // The follower had already let go of the dead leader and kept the proposal for the next.
                #expect(r.status == .ok, "\(r.status) \(r.bodyString)")
            }
            _ = try await cluster.waitForLeader(seconds: 30)
            let retried = try await cluster.putRetrying(follower, "/k", "after")
            #expect(retried.status == .ok, "\(retried.bodyString)")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test func writesWithoutQuorumTimeOutWithEtcdsError() async throws {
        let cluster = try await LoopbackCluster(size: 3)
        do {
            _ = try await cluster.waitForLeader()
            await cluster.stop(1)
            await cluster.stop(2)
            let r = try await cluster.put(0, "/lonely", "x", timeout: 30)
            #expect(r.status == .internalServerError)
            #expect(r.bodyString.contains(#""errorCode":300"#) && r.bodyString.contains("request timed out"))
            // Local reads still work.
            #expect(try await cluster.get(0, "/").status == .ok)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test func aDataDirectoryCannotBeSharedOrReused() async throws {
        let cluster = try await LoopbackCluster(size: 1)
        defer { Task { await cluster.shutdown() } }
        _ = try await cluster.waitForLeader()
        var other = cluster.configs[0]
        other.listenClientURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        other.listenPeerURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        do {
            _ = try await KVMember.start(config: other)
            Issue.record("a second member opened a locked data directory")
        } catch {
            #expect(String(describing: error).contains("another"), "\(error)")
        }
    }
}
