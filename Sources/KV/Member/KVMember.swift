#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Failures starting a member, each saying what to change.
public enum KVMemberError: Error, CustomStringConvertible {
    case storage(MemberStorageError)
    case notInInitialCluster(name: String)
    case joinFailed(String)
    case listen(String)
    /// Discovery bootstrap failed; `url` is the discovery URL (the token).
    case discovery(DiscoveryError, url: String)

    public var description: String {
        switch self {
        case .discovery(let e, let url):
            var lines = ["failed to join discovery cluster (\(e))"]
            if case .fullCluster = e {
                lines.append("discovery token \(url) was used, but failed to bootstrap the cluster.")
                lines.append("please generate a new discovery token and try to bootstrap again.")
            } else {
                lines += e.advice
            }
            return lines.joined(separator: "\n")
        case .storage(let e): return e.description
        case .notInInitialCluster(let name):
            return "member \(name) is not listed in --initial-cluster; add \(name)=<its peer URL> to it"
        case .joinFailed(let why): return "cannot join the existing cluster: \(why)"
        case .listen(let why): return why
        }
    }
}

/// A member of the replicated store: the Raft core driven on one event loop, its WAL and
/// snapshots, the v2 store it applies to, and the peer transport.
///
/// Everything that touches the Raft node runs on `loop`, an event loop of the member's own; clients
/// (HTTP tasks) hand it inputs through a locked inbox and wait for the outcome of applying their
/// proposals.
///
/// Why an event loop rather than a dispatch queue: the connections to the peers live on the same
/// loop, so the frames a Ready sends are written to their sockets by the thread that made them,
/// where they took a dispatch-to-task-to-event-loop trip before; on a loaded 2-core machine each
/// crossing is a context switch that costs latency and CPU. The peer listener stays on NIO's
/// shared loops (docs/kv.md says why). The loop blocks while the WAL syncs.
public final class KVMember: KVBackend, @unchecked Sendable {
    public let store = Store()
    public let clusterID: UInt64
    public let memberID: UInt64
    public let memberName: String
    public let config: KVConfig
    let logger: Logger
    let transport: PeerTransport
    /// The Raft loop's thread (see the type's documentation); stopped by `stop()`.
    let loopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop: any EventLoop
    private let loopStopped = Atomic(false)
    let requestTimeout: Duration

    // Confined to `loop`.
    var node: RaftNode
    let storage: MemberStorage
    var pendingProposals: [QueuedProposal] = []
    /// The leader as of the last `process(tick:)`, to notice a change (see `abandonProposals`).
    var lastLeader: UInt64 = 0
    /// Quorum reads (request numbers) not yet in a ReadIndex round.
    var pendingReads: [UInt64] = []
    var readBatches = ReadBatches()
    var readsAwaitingApply: [ReadState] = []
    var lastSnapshotIndex: UInt64
    var lastHousekeeping = ContinuousClock.now
    var expireProposedAt: ContinuousClock.Instant?
    /// Since when this member leads (nil while it does not): TTL expiry waits `ttlGrace` after it.
    var leadingSince: ContinuousClock.Instant?
    let ttlGrace: Duration
    var publishProposedAt: ContinuousClock.Instant?
    var knownPeers: [UInt64: [String]] = [:]
    /// Peers not (yet) in the store's membership records: see `refreshPeers`.
    var remotes: [UInt64: [String]] = [:]
    var timer: RepeatedTask?
    var fatal: String?

    let shared = Mutex(Shared())

    struct Shared {
        var inbox: [Message] = []
        var newProposals: [QueuedProposal] = []
        var newReads: [UInt64] = []
        var scheduled = false
        var nextRequest: UInt64 = 1
        var waiters: [UInt64: ProposalWaiter] = [:]
        var readWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        /// When each waiter above gives up ("request timed out"); swept on every tick.
        var deadlines = RequestDeadlines()
        var commitIndex: UInt64 = 0
        var term: UInt64 = 0
        var leader: UInt64 = 0
        var role: RaftRole = .follower
        var stopped = false
        var startTime = WallClock.nanoseconds()
        var leaderSince = WallClock.nanoseconds()
        var sentAppends: UInt64 = 0
        var receivedAppends: UInt64 = 0
        var lastTick = ContinuousClock.now
        /// The peers the transport has URLs for (a copy of `knownPeers`' keys, for `noteSender`).
        var peerIDs: Set<UInt64> = []
    }

    /// What applying a proposal produced, handed to the member that proposed it.
    enum ApplyResult {
        case store(StoreOutcome)
        case member(Result<MemberInfo, KVBackendError>)
    }

    init(config: KVConfig, logger: Logger, memberID: UInt64, clusterID: UInt64, storage: MemberStorage,
         raft: MemoryStorage) {
        self.config = config
        self.logger = logger
        self.memberID = memberID
        self.clusterID = clusterID
        self.memberName = config.name
        self.storage = storage
        self.loop = loopGroup.next()
        self.transport = PeerTransport(localID: memberID, clusterID: clusterID,
                                       localURLs: config.initialAdvertisePeerURLs.map(\.description), logger: logger,
                                       eventLoop: loop)
        let electionTicks = max(2, config.electionTimeout / max(1, config.heartbeatInterval))
        var raftConfig = RaftConfig(id: memberID, electionTick: electionTicks, heartbeatTick: 1,
                                    maxEntriesPerMessage: 512, maxInflightMessages: 256)
        raftConfig.randomSeed = UInt64.random(in: 1...UInt64.max)
        node = RaftNode(config: raftConfig, storage: raft)
        lastSnapshotIndex = raft.snapshot.metadata.index
        // etcd: 5 s plus two election timeouts before a proposal is answered "request timed out".
        requestTimeout = .seconds(5) + .milliseconds(2 * config.electionTimeout)
        ttlGrace = .milliseconds(max(0, config.ttlGraceAfterElection))
        if !raft.snapshot.isEmpty {
            do { try store.restore(raft.snapshot.data) } catch {
                fatal = "snapshot at index \(raft.snapshot.metadata.index) does not restore: \(error)"
            }
        }
    }

    // MARK: - Inputs (any thread)

    /// Peer frames arrive here.
    func receive(frames: [[UInt8]]) {
        var messages: [Message] = []
        messages.reserveCapacity(frames.count)
        for frame in frames {
            guard let m = try? RaftWireCodec.decodeMessage(frame), m.to == memberID else { continue }
            messages.append(m)
        }
        guard !messages.isEmpty else { return }
        shared.withLock { $0.inbox.append(contentsOf: messages) }
        schedule()
    }

    func schedule() {
        let run = shared.withLock { s -> Bool in
            if s.scheduled || s.stopped { return false }
            s.scheduled = true
            return true
        }
        if run { loop.execute { self.process(tick: false) } }
    }

    /// Proposes a member proposal and waits for this member to apply it.
    func proposeAndWait(_ make: (UInt64) -> MemberProposal) async throws(KVBackendError) -> ApplyResult {
        let result: ApplyResult? = await withCheckedContinuation { continuation in
            enqueue(make, ProposalWaiter(continuation: continuation))
        }
        guard let result else { throw failureReason }
        return result
    }

    /// Queues a proposal for the Raft loop with `waiter` to be resumed when it applies here (or
    /// with nil at once when the member has stopped).
    private func enqueue(_ make: (UInt64) -> MemberProposal, _ waiter: ProposalWaiter) {
        let request = shared.withLock { s -> UInt64 in
            defer { s.nextRequest += 1 }
            return s.nextRequest
        }
        let data = make(request).encoded()
        let deadline = ContinuousClock.now + requestTimeout
        let accepted = shared.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.waiters[request] = waiter
            s.deadlines.add(request, .proposal, deadline: deadline)
            s.newProposals.append(QueuedProposal(request: request, data: data))
            return true
        }
        guard accepted else {
            waiter.resume(returning: nil)
            return
        }
        schedule()
    }

    /// Why a proposal ended without a result.
    private var failureReason: KVBackendError { shared.withLock { $0.stopped } ? .stopped : .timedOut }

    // MARK: - KVBackend

    public var raftPosition: (index: UInt64, term: UInt64) { shared.withLock { ($0.commitIndex, $0.term) } }

    public var leaderID: UInt64? {
        let l = shared.withLock { $0.leader }
        return l == 0 ? nil : l
    }

    public func propose(_ operation: StoreOperation) async throws(KVBackendError) -> StoreOutcome {
        try await withCheckedContinuation { continuation in
            propose(operation) { continuation.resume(returning: $0) }
        }.get()
    }

    public func propose(_ operation: StoreOperation,
                        completion: @escaping @Sendable (Result<StoreOutcome, KVBackendError>) -> Void) {
        let id = memberID
        enqueue({ request in
            .store(member: id, request: request, command: StoreCommand(now: WallClock.nanoseconds(), operation))
        }, ProposalWaiter { [weak self] result in
            if case .store(let outcome)? = result {
                completion(.success(outcome))
            } else {
                completion(.failure(result == nil ? self?.failureReason ?? .stopped : .timedOut))
            }
        })
    }

    public func readBarrier() async throws(KVBackendError) {
        let request = shared.withLock { s -> UInt64 in
            defer { s.nextRequest += 1 }
            return s.nextRequest
        }
        let ok: Bool = await withCheckedContinuation { continuation in
            let deadline = ContinuousClock.now + .seconds(requestTimeout.components.seconds)
            let accepted = shared.withLock { s -> Bool in
                guard !s.stopped else { return false }
                s.readWaiters[request] = continuation
                s.deadlines.add(request, .read, deadline: deadline)
                s.newReads.append(request)
                return true
            }
            guard accepted else {
                continuation.resume(returning: false)
                return
            }
            schedule()
        }
        if !ok { throw shared.withLock { $0.stopped } ? .stopped : .timedOut }
    }

    public func members() -> [MemberInfo] { MembershipRecords.members(in: store) }

    /// Whether the Raft loop is alive: not stopped and ticked within `window` (for the service
    /// watchdog: a wedged loop stops the pings and systemd restarts the member).
    public func isLoopAlive(within window: Duration) -> Bool {
        shared.withLock { !$0.stopped && ContinuousClock.now - $0.lastTick < window }
    }

    public func addMember(peerURLs: [String]) async throws(KVBackendError) -> MemberInfo {
        if members().contains(where: { !Set($0.peerURLs).isDisjoint(with: peerURLs) }) { throw .peerURLExists }
        var h = FNV1a64()
        h.add(MemberInfo.hex(clusterID))
        h.add(String(WallClock.nanoseconds()))
        for url in peerURLs.sorted() { h.add(url) }
        let info = MemberInfo(id: h.value == 0 ? 1 : h.value, name: "", peerURLs: peerURLs, clientURLs: [])
        let me = memberID
        let result = try await proposeAndWait { .addMember(member: me, request: $0, info: info) }
        guard case .member(let r) = result else { throw .timedOut }
        return try r.get()
    }

    public func updateMember(id: UInt64, peerURLs: [String]) async throws(KVBackendError) {
        let me = memberID
        let result = try await proposeAndWait { .updateMember(member: me, request: $0, id: id, peerURLs: peerURLs) }
        guard case .member(let r) = result else { throw .timedOut }
        _ = try r.get()
    }

    public func removeMember(id: UInt64) async throws(KVBackendError) {
        let me = memberID
        let result = try await proposeAndWait { .removeMember(member: me, request: $0, id: id) }
        guard case .member(let r) = result else { throw .timedOut }
        _ = try r.get()
    }

    public func selfStatsJSON() -> String {
        let s = shared.withLock { $0 }
        var out = #"{"name":"#
        V2JSON.appendString(memberName, to: &out)
        out += #","id":"\#(MemberInfo.hex(memberID))","state":"\#(s.role == .leader ? "StateLeader" : s.role == .follower ? "StateFollower" : "StateCandidate")""#
        out += #","startTime":"\#(RFC3339.format(s.startTime))""#
        out += #","leaderInfo":{"leader":"\#(MemberInfo.hex(s.leader))","uptime":"\#(Double(WallClock.nanoseconds() - s.leaderSince) / 1e9)s","startTime":"\#(RFC3339.format(s.leaderSince))"}"#
        out += #","recvAppendRequestCnt":\#(s.receivedAppends),"sendAppendRequestCnt":\#(s.sentAppends)}"#
        return out
    }

    public func leaderStatsJSON() -> String? {
        let (leader, role) = shared.withLock { ($0.leader, $0.role) }
        guard role == .leader else { return nil }
        let followers = members().filter { $0.id != memberID }.map { m in
            #""\#(m.idString)":{"latency":{"current":0,"average":0,"standardDeviation":0,"minimum":0,"maximum":0},"counts":{"fail":0,"success":0}}"#
        }
        return #"{"leader":"\#(MemberInfo.hex(leader))","followers":{"# + followers.joined(separator: ",") + "}}"
    }

    /// Stops the loop and the transport; waiting clients get "server stopped".
    public func stop() {
        let (waiters, reads) = shared.withLock { s -> ([ProposalWaiter], [CheckedContinuation<Bool, Never>]) in
            s.stopped = true
            defer { s.waiters.removeAll(); s.readWaiters.removeAll(); s.deadlines.removeAll() }
            return (Array(s.waiters.values), Array(s.readWaiters.values))
        }
        for w in waiters { w.resume(returning: nil) }
        for r in reads { r.resume(returning: false) }
        // Only the first call stops the loop (a stopped loop runs nothing, so waiting on it would hang).
        guard !loopStopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        onLoopAndWait {
            self.timer?.cancel()
            self.timer = nil
            self.storage.close()
        }
        transport.shutdown()
        loopGroup.shutdownGracefully { _ in }
    }

    /// Runs `body` on the Raft loop and returns when it has run (at once when already there).
    ///
    /// A semaphore rather than `EventLoopFuture.wait()`: callers may be on another event loop
    /// (an HTTP task), where NIO forbids `wait()`.
    func onLoopAndWait(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { return body() }
        let done = DispatchSemaphore(value: 0)
        loop.execute {
            body()
            done.signal()
        }
        done.wait()
    }
}

/// RFC 3339 time with nanoseconds, UTC, as etcd prints times.
enum RFC3339 {
    static func format(_ unixNanos: Int64) -> String {
        var t = time_t(unixNanos / 1_000_000_000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(unixNanos % 1_000_000_000), 9))Z"
    }
}
