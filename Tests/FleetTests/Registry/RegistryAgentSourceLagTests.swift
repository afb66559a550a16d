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
        let names = (0..<10).map { "u\($0).service" }
        let live = try await LiveAgentSource.start(store: store, keys: keys, units: names)
        #expect(live.source.isLive)
        // The member reads go to has not applied the schedules below.
        for name in names { try await store.freeze(keys.jobDirectory(name)) }
        for name in names { try await live.registry.schedule(name, on: "m1") }
        #expect(try await EngineTests.eventually { try await live.desiredNames() == names.sorted() })
        #expect(store.quorumReadCount > 1, "the stale reads were repeated as quorum reads")
        live.stop()
    }
}
