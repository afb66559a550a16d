import KV
import Synchronization
import Testing
@testable import Fleet

/// Reads go to any member, and a member may not have applied the schedule the agent's watch just
/// reported. The view must not take such a read for the truth (it showed the unit not scheduled
/// here, the view let go of it and the agent never started it: the worker after a Raft leader's
/// death, bench-fleet 2026-11-24).
@Suite struct RegistryAgentSourceLagTests {
    /// Passes everything on, except that non-quorum reads of a captured `job/<u>` answer what the
    /// store held when it was captured: a member that lags behind.
    final class LaggingUnitReads: ForwardingStoreClient {
        let inner: any StoreClient
        private let stale = Mutex([String: (node: StoreNode?, index: UInt64)]())
        private let quorumReads = Mutex(0)
        init(_ inner: any StoreClient) { self.inner = inner }
        var quorumReadCount: Int { quorumReads.withLock { $0 } }

        /// From now on, non-quorum reads of `key` answer as the store does now.
        func freeze(_ key: String) async throws {
            let now = try await inner.get(key, recursive: true, quorum: false)
            stale.withLock { $0[key] = now }
        }

        func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64) {
            if quorum { quorumReads.withLock { $0 += 1 } }
            if !quorum, let old = stale.withLock({ $0[key] }) { return old }
            return try await inner.get(key, recursive: recursive, quorum: quorum)
        }
    }

    @Test func aUnitScheduledHereIsKeptWhenTheReadComesFromALaggingMember() async throws {
        let keys = RegistryKeyLayout(prefix: "/f/")
        let backend = UnreplicatedBackend(name: "f", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let store = LaggingUnitReads(InProcessStoreClient(backend: backend))
        let registry = Registry(store: store, keys: keys)
        let names = (0..<10).map { "u\($0).service" }
        for name in names {
            try await registry.createUnit(try RegistryUnit(name: name, text: JobEventFeedTests.text, desiredState: .launched))
        }
        let source = RegistryAgentSource(registry: registry, machineID: "m1", ttl: 30)
        let stream = await source.changes()
        let follower = Task { for await _ in stream {} }
        #expect(await EngineTests.eventually { source.isLive })
        // The member reads go to has not applied the schedules below.
        for name in names { try await store.freeze(keys.jobDirectory(name)) }
        for name in names { try await registry.schedule(name, on: "m1") }
        #expect(try await EngineTests.eventually {
            try await source.desiredUnits(for: MachineState(id: "m1")).map(\.name).sorted() == names.sorted()
        })
        #expect(store.quorumReadCount > 1, "the stale reads were repeated as quorum reads")
        follower.cancel()
    }
}
