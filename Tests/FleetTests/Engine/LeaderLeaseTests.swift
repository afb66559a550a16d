import Testing
import TestSupport
@testable import Fleet

/// The lease against a real etcd: one holder at a time, takeover after the holder dies, and a
/// deposed holder learns it at its next renewal.
@Suite struct LeaderLeaseTests {
    @Test func oneHolderAtATimeAndTakeoverAfterTTL() async throws {
        let etcd = try RealEtcd()
        let store = try EtcdV2Client(urls: etcd.clientURL)
        let key = "/_coreos.com/fleet/lease/engine-leader"
        let a = LeaderLease(store: store, key: key, holderID: "machine-a", ttlSeconds: 4)
        let b = LeaderLease(store: store, key: key, holderID: "machine-b", ttlSeconds: 4)

        let first = await a.tick()
        guard case .held(let epochA) = first else { Issue.record("a did not get the lease: \(first)"); return }
        // Validity is local and shrinks with the write's latency: on a loaded machine the first
        // write to a fresh etcd can take seconds, so renew until a write was quick enough.
        for _ in 0..<10 where !a.isValid { _ = await a.tick() }
        #expect(a.isValid)
        #expect(await b.tick() == .heldBy("machine-a"))
        #expect(!b.isValid)
        // Renewal keeps the epoch.
        #expect(await a.tick() == .held(epoch: epochA))

        // a stops renewing (dies): b takes over once the TTL has run out in the store.
        var took = false
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if case .held(let epochB) = await b.tick() {
                #expect(epochB > epochA)
                took = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(took)
        // a's local window ran out before b could take the lease.
        #expect(!a.isValid)
        // a's next renewal fails its compare-and-swap and reports the new holder.
        #expect(await a.tick() == .heldBy("machine-b"))
        #expect(a.currentEpoch == nil)
    }

    @Test func releaseHandsOverAtOnce() async throws {
        let etcd = try RealEtcd()
        let store = try EtcdV2Client(urls: etcd.clientURL)
        let a = LeaderLease(store: store, key: "/lease", holderID: "a", ttlSeconds: 30)
        let b = LeaderLease(store: store, key: "/lease", holderID: "b", ttlSeconds: 30)
        guard case .held = await a.tick() else { Issue.record("a did not get the lease"); return }
        await a.release()
        #expect(!a.isValid)
        guard case .held = await b.tick() else { Issue.record("b did not get the released lease"); return }
    }

    @Test func unreachableStoreMeansNotHeld() async throws {
        let store = try EtcdV2Client(urls: "http://127.0.0.1:\(freeLoopbackPort())", timeout: 0.5)
        let a = LeaderLease(store: store, key: "/lease", holderID: "a", ttlSeconds: 5)
        guard case .unknown(let why) = await a.tick() else { Issue.record("expected unknown"); return }
        #expect(why.contains("127.0.0.1"))
        #expect(!a.isValid)
    }
}
