import Synchronization

/// A `KVBackend` that applies every operation directly to its store: no Raft, no WAL.
///
/// It serves the v2 API's exactness tests and tools that need a throwaway store; a real member
/// replicates through Raft and persists to its WAL. It still records membership under `/0` and
/// expires TTL keys, so it answers exactly like a fresh one-member etcd.
public final class UnreplicatedBackend: KVBackend {
    public let store: Store
    public let clusterID: UInt64
    public let memberID: UInt64
    public let memberName: String
    private let state = Mutex(State())
    private let expiry = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        var raftIndex: UInt64 = 0
    }

    public init(name: String, peerURLs: [String], clientURLs: [String], token: String = "etcd-cluster") {
        store = Store()
        memberName = name
        memberID = MembershipRecords.memberID(peerURLs: peerURLs, token: token)
        clusterID = MembershipRecords.clusterID(memberIDs: [memberID])
        // What a fresh etcd member writes at bootstrap: itself, the cluster version, its attributes.
        for op in [MembershipRecords.addOperation(id: memberID, peerURLs: peerURLs),
                   MembershipRecords.versionOperation(ClientAPI.clusterVersion),
                   MembershipRecords.publishOperation(id: memberID, name: name, clientURLs: clientURLs)] {
            apply(op)
        }
    }

    /// Starts proposing expiry every `interval` while TTL keys exist (etcd's leader does it every 500 ms).
    public func startExpiry(interval: Duration = .milliseconds(100)) {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                let now = WallClock.nanoseconds()
                if let next = self.store.nextExpiration, next <= now {
                    self.apply(.expire, now: now)
                }
            }
        }
        expiry.withLock { $0 = task }
    }

    deinit { expiry.withLock { $0?.cancel() } }

    @discardableResult
    private func apply(_ op: StoreOperation, now: Int64 = WallClock.nanoseconds()) -> StoreOutcome {
        state.withLock { s in
            s.raftIndex += 1
            return store.apply(StoreCommand(now: now, op))
        }
    }

    public var raftPosition: (index: UInt64, term: UInt64) { (state.withLock { $0.raftIndex }, 2) }
    public var leaderID: UInt64? { memberID }

    public func propose(_ operation: StoreOperation) async throws(KVBackendError) -> StoreOutcome {
        apply(operation)
    }

    public func propose(_ operation: StoreOperation,
                        completion: @escaping @Sendable (Result<StoreOutcome, KVBackendError>) -> Void) {
        completion(.success(apply(operation)))
    }

    public func readBarrier() async throws(KVBackendError) {}

    public func members() -> [MemberInfo] { MembershipRecords.members(in: store) }

    public func addMember(peerURLs: [String]) async throws(KVBackendError) -> MemberInfo {
        if members().contains(where: { !Set($0.peerURLs).isDisjoint(with: peerURLs) }) { throw .peerURLExists }
        let id = MembershipRecords.memberID(peerURLs: peerURLs, token: String(clusterID))
        apply(MembershipRecords.addOperation(id: id, peerURLs: peerURLs))
        return MemberInfo(id: id, name: "", peerURLs: peerURLs, clientURLs: [])
    }

    public func updateMember(id: UInt64, peerURLs: [String]) async throws(KVBackendError) {
        let all = members()
        guard all.contains(where: { $0.id == id }) else { throw .memberNotFound(id) }
        if all.contains(where: { $0.id != id && !Set($0.peerURLs).isDisjoint(with: peerURLs) }) { throw .peerURLExists }
        apply(MembershipRecords.updateOperation(id: id, peerURLs: peerURLs))
    }

    public func removeMember(id: UInt64) async throws(KVBackendError) {
        if MembershipRecords.isRemoved(id, in: store) { throw .memberRemoved(id) }
        guard members().contains(where: { $0.id == id }) else { throw .memberNotFound(id) }
        for op in MembershipRecords.removeOperations(id: id) { apply(op) }
    }

    public func selfStatsJSON() -> String {
        #"{"name":"\#(memberName)","id":"\#(MemberInfo.hex(memberID))","state":"StateLeader","recvAppendRequestCnt":0,"sendAppendRequestCnt":0}"#
    }

    public func leaderStatsJSON() -> String? {
        #"{"leader":"\#(MemberInfo.hex(memberID))","followers":{}}"#
    }
}
