import Logging
import Testing
import TestSupport
@testable import Fleet
@testable import KV

/// The same contract as against real etcd, through a member in this process.
@Suite struct InProcessStoreClientTests {
    @Test func contractOnAnUnreplicatedStore() async throws {
        let backend = UnreplicatedBackend(name: "m1", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        backend.startExpiry()
        try await StoreClientContract.run(InProcessStoreClient(backend: backend), prefix: "/contract")
    }

    @Test func contractOnARaftMember() async throws {
        var config = KVConfig()
        let client = freeLoopbackPort(), peer = freeLoopbackPort()
        config.name = "m1"
        config.dataDir = "/tmp/fleet-swift-inproc-\(client)"
        config.listenClientURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: client)]
        config.advertiseClientURLs = config.listenClientURLs
        config.listenPeerURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: peer)]
        config.initialAdvertisePeerURLs = config.listenPeerURLs
        config.initialCluster = KVInitialCluster(members: [.init(name: "m1", peerURLs: config.listenPeerURLs)])
        config.heartbeatInterval = 20
        config.electionTimeout = 200
        let running = try await KVMember.start(config: config, logger: Logger(label: "m1"))
        defer {
            Task { await running.shutdown() }
            _ = try? ChildProcess.run(["rm", "-rf", config.dataDir])
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while running.member.leaderID == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        try await StoreClientContract.run(InProcessStoreClient(backend: running.member), prefix: "/contract")
    }
}
