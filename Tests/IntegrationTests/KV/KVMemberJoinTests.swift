import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// A member added through `/v2/members` and started with `--initial-cluster-state existing` catches
/// up with the cluster. (Found by the fault suite: the new member's store starts empty, so it knew
/// no peer to answer the leader with and stayed at index 0 for ever.)
@Suite(.serialized) struct KVMemberJoinTests {
    @Test func addedMemberCatchesUpWithTheCluster() async throws {
        let cluster = try KVProcessCluster(size: 3)
        defer { cluster.shutdown() }
        try cluster.waitHealthy()
        let client = HTTPClient()
        defer { client.shutdown() }
        let first = HTTPEndpoint.tcp(host: "127.0.0.1", port: cluster.clientPorts[0])
        var form = HTTPHeaders()
        form.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        for k in 0..<20 {
            let r = try await client.execute(.PUT, first, "/v2/keys/join/k\(k)", headers: form, body: ByteBuffer(string: "value=\(k)"), timeout: 10)
            #expect(r.status == .created)
        }

        let clientPort = freeLoopbackPort(), peerPort = freeLoopbackPort()
        let peerURL = "http://127.0.0.1:\(peerPort)", clientURL = "http://127.0.0.1:\(clientPort)"
        var json = HTTPHeaders()
        json.add(name: "Content-Type", value: "application/json")
        let added = try await client.execute(.POST, first, "/v2/members", headers: json,
                                             body: ByteBuffer(string: #"{"peerURLs":["\#(peerURL)"]}"#), timeout: 10)
        #expect(added.status == .created, "\(added.bodyString)")
        let others = (0..<3).map { "m\($0 + 1)=http://127.0.0.1:\(cluster.peerPorts[$0])" }
        let joiner = try BackgroundProcess([
            KVProcessCluster.fleetd, "kv", "--name", "m4", "--data-dir", "\(cluster.root)/m4",
            "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
            "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", (others + ["m4=\(peerURL)"]).joined(separator: ","),
            "--initial-cluster-token", cluster.token, "--initial-cluster-state", "existing",
            "--heartbeat-interval", "50", "--election-timeout", "500",
        ], logPath: "\(cluster.root)/m4.log")
        defer { joiner.terminate(grace: 3) }

        func storeHash(_ port: Int) async -> String? {
            try? await client.execute(.GET, .tcp(host: "127.0.0.1", port: port), "/debug/store-hash", timeout: 2).bodyString
        }
        let deadline = ContinuousClock.now + .seconds(20)
        var theirs: String?, ours: String?
        repeat {
            theirs = await storeHash(cluster.clientPorts[0])
            ours = await storeHash(clientPort)
            if theirs != nil && theirs == ours { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        #expect(theirs != nil && ours == theirs, "the new member did not catch up: \(ours ?? "-") vs \(theirs ?? "-")\n\(joiner.log().suffix(1500))")
        let read = try await client.execute(.GET, .tcp(host: "127.0.0.1", port: clientPort), "/v2/keys/join/k19", timeout: 5)
        #expect(read.bodyString.contains(#""value":"19""#))
    }
}
