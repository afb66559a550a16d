import Foundation
import KV
import Synchronization
import Testing
@testable import Fleet

/// Many units becoming this machine's at once (a dead machine's units, a large `fleetctl start`):
/// the agent's view reads them concurrently instead of one store round trip after another.
@Suite struct RegistryAgentSourceBurstTests {
    /// Passes everything on; reads of one unit's `job/<u>` take 100 ms and are counted in flight.
    final class SlowUnitReads: ForwardingStoreClient {
        let inner: any StoreClient
        let keys: RegistryKeyLayout
        private let counts = Mutex((now: 0, most: 0))
        init(_ inner: any StoreClient, keys: RegistryKeyLayout) {
            self.inner = inner
            self.keys = keys
        }
        var mostInFlight: Int { counts.withLock { $0.most } }

        func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64) {
            guard case .jobDirectory? = kind(key) else { return try await inner.get(key, recursive: recursive, quorum: quorum) }
            counts.withLock { c in
                c.now += 1
                c.most = max(c.most, c.now)
            }
            defer { counts.withLock { $0.now -= 1 } }
            try await Task.sleep(for: .milliseconds(100))
            return try await inner.get(key, recursive: recursive, quorum: quorum)
        }
        private enum Kind { case jobDirectory }
        private func kind(_ key: String) -> Kind? {
            let prefix = keys.jobsDirectory + "/"
            guard key.hasPrefix(prefix), !key.dropFirst(prefix.count).contains("/") else { return nil }
            return .jobDirectory
        }
    }

    @Test func aBurstOfSchedulesIsReadConcurrentlyAndEveryUnitArrives() async throws {
        let keys = RegistryKeyLayout(prefix: "/f/")
        let backend = UnreplicatedBackend(name: "f", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let store = SlowUnitReads(InProcessStoreClient(backend: backend), keys: keys)
        let names = (0..<40).map { "u\($0).service" }
        let live = try await LiveAgentSource.start(store: store, keys: keys, units: names)
        #expect(live.source.isLive)
        for name in names { try await live.registry.schedule(name, on: "m1") }
        #expect(try await EngineTests.eventually { try await live.desiredNames() == names.sorted() })
        // One after another (the old way) never has two reads in flight; 40 schedules written
        // within the first read's 100 ms arrive together and are read together.
        #expect(store.mostInFlight > 1)
        live.stop()
    }
}
