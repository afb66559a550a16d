import Synchronization
import Testing

@testable import Fleet
@testable import KV

/// A presence refresh the store never answers (a proposal forwarded to a Raft leader that just died
/// is lost, and the member only times it out after 7 s) must not hold up the next one: the machine's
/// record would run out while its fleetd lives, and its units would move.
@Suite struct DaemonPresenceRetryTests {
    /// An ``UnreplicatedBackend`` whose first refresh proposal is held (until released, at most 60 s
    /// after the backend was made, so a broken heartbeat fails the test instead of hanging it);
    /// counts refresh proposals.
    final class StallingBackend: KVBackend {
        let inner = UnreplicatedBackend(name: "s", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        private let state = Mutex((refreshes: 0, released: false))
        let deadline = ContinuousClock.now + .seconds(60)
        var refreshes: Int { state.withLock { $0.refreshes } }
        func release() { state.withLock { $0.released = true } }

        func propose(_ operation: StoreOperation) async throws(KVBackendError) -> StoreOutcome {
            if case .update(_, _, _, true) = operation {
                let first = state.withLock { s in
                    s.refreshes += 1
                    return s.refreshes == 1
                }
                while first, !state.withLock({ $0.released }), ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(10))
                }
            }
            return try await inner.propose(operation)
        }
        func propose(_ operation: StoreOperation,
                     completion: @escaping @Sendable (Result<StoreOutcome, KVBackendError>) -> Void) {
            Task {
                do throws(KVBackendError) { completion(.success(try await propose(operation))) } catch { completion(.failure(error)) }
            }
        }
        var store: Store { inner.store }
        var clusterID: UInt64 { inner.clusterID }
        var memberID: UInt64 { inner.memberID }
        var memberName: String { inner.memberName }
        var raftPosition: (index: UInt64, term: UInt64) { inner.raftPosition }
        var leaderID: UInt64? { inner.leaderID }
        func readBarrier() async throws(KVBackendError) { try await inner.readBarrier() }
        func members() -> [MemberInfo] { inner.members() }
        func addMember(peerURLs: [String]) async throws(KVBackendError) -> MemberInfo {
            try await inner.addMember(peerURLs: peerURLs)
        }
        func updateMember(id: UInt64, peerURLs: [String]) async throws(KVBackendError) {
            try await inner.updateMember(id: id, peerURLs: peerURLs)
        }
        func removeMember(id: UInt64) async throws(KVBackendError) { try await inner.removeMember(id: id) }
        func selfStatsJSON() -> String { inner.selfStatsJSON() }
        func leaderStatsJSON() -> String? { inner.leaderStatsJSON() }
    }

    @Test func aRefreshTheStoreNeverAnswersIsAbandonedAndTriedAgain() async throws {
        let backend = StallingBackend()
        let registry = Registry(store: InProcessStoreClient(backend: backend))
        // TTL 3 s: a refresh every second, each waited for at most 1 s.
        let heartbeat = MachineHeartbeat(
            registry: registry, machine: MachineState(id: "m4", publicIP: "10.0.0.4"), ttl: 3,
            logger: FleetDaemonTests.quiet)
        try await heartbeat.announceOnce()
        let running = Task { await heartbeat.run() }
        // The first refresh is still held when the second and third are proposed. Before, run()
        // waited for the first however long the store took.
        let retried = await EngineTests.eventually(30) { backend.refreshes >= 3 }
        backend.release()
        #expect(retried, "refresh proposals seen: \(backend.refreshes)")
        let timeout = await heartbeat.attemptTimeout
        #expect(timeout == .seconds(1))
        running.cancel()
        await running.value
    }
}
