import Logging
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// A member restarted from a commit index at which its store does not yet list the current leader
/// catches up.
///
/// Found by the fault suite (3 members, 300 s, seed 9285785732382273644): a member restarted with
/// `commit=512` took its peers only from its store's membership records, which at that index did
/// not contain the leader (a member removed and re-added later, with a new ID). It received the
/// leader's heartbeats and appends but had no URL to answer them with, so the leader never learnt
/// where its log ended and the member stayed at 512, silent, for ever. The fix: every peer request
/// carries the sender's peer URLs (`X-PeerURLs`, as in etcd) and a member learns unknown senders
/// as remotes.
@Suite(.serialized) struct KVRestartBehindLogTests {
    @Test func restartedMemberWhoseStoreDoesNotKnowTheLeaderCatchesUp() async throws {
        let cluster = try await LoopbackCluster(size: 3)
        let joinerClient = HTTPClient()
        var joiner: KVMember.Running?
        do {
            let first = try await cluster.waitForLeader()
            let behind = (first + 1) % 3
            for k in 0..<20 { #expect(try await cluster.putRetrying(first, "/before/k\(k)", "\(k)").status == .created) }
            // The member that will restart behind the log stops (its store lists m1..m3 only).
            await cluster.stop(behind)
            let leader = try await cluster.waitForLeader()

            // A fourth member joins while it is down, and becomes the leader.
            let clientPort = freeLoopbackPort(), peerPort = freeLoopbackPort()
            var config = LoopbackCluster.memberConfig(name: "m4", root: cluster.root, clientPort: clientPort, peerPort: peerPort)
            config.initialCluster = cluster.configs[leader].initialCluster
            config.initialCluster.members.append(KVInitialCluster.Member(name: "m4", peerURLs: config.listenPeerURLs))
            config.initialClusterState = .existing
            var json = HTTPHeaders()
            json.add(name: "Content-Type", value: "application/json")
            let added = try await cluster.client.execute(.POST, cluster.endpoint(leader), "/v2/members", headers: json,
                                                         body: ByteBuffer(string: #"{"peerURLs":["http://127.0.0.1:\#(peerPort)"]}"#),
                                                         timeout: 10)
            #expect(added.status == .created, "\(added.bodyString)")
            joiner = try await KVMember.start(config: config, logger: Logger(label: "m4"))
            let newcomer = try #require(joiner).member
            let old = try #require(cluster.running[leader]).member
            let deadline = ContinuousClock.now + .seconds(20)
            while newcomer.leaderID != newcomer.memberID && ContinuousClock.now < deadline {
                try await old.loop.submit { try? old.node.transferLeadership(to: newcomer.memberID) }.get()
                old.schedule()
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(newcomer.leaderID == newcomer.memberID, "m4 did not take over the leadership")
            var h = HTTPHeaders()
            h.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let put = try await joinerClient.execute(.PUT, .tcp(host: "127.0.0.1", port: clientPort), "/v2/keys/after", headers: h,
                                                     body: ByteBuffer(string: "value=new-leader"), timeout: 10)
            #expect(put.status == .created, "\(put.bodyString)")
            let target = newcomer.raftPosition.index

            // Restarted, the member's store (at its old commit) does not list m4, the leader.
            try await cluster.restart(behind)
            let restarted = try #require(cluster.running[behind]).member
            let caughtUp = ContinuousClock.now + .seconds(15)
            while restarted.raftPosition.index < target && ContinuousClock.now < caughtUp {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(restarted.raftPosition.index >= target,
                    "the restarted member stayed at \(restarted.raftPosition.index), the leader is at \(target)")
            let read = try await cluster.get(behind, "/after")
            #expect(read.bodyString.contains(#""value":"new-leader""#), "\(read.bodyString)")
        } catch {
            await joiner?.shutdown()
            joinerClient.shutdown()
            await cluster.shutdown()
            throw error
        }
        await joiner?.shutdown()
        joinerClient.shutdown()
        await cluster.shutdown()
    }
}
