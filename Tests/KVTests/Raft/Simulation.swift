import KV

/// Parameters of one deterministic simulation run. Everything random derives from `seed`.
struct SimOptions {
    var seed: UInt64
    var nodes: Int
    /// 0 = perfect network and no crashes; 1 = very hostile.
    var faultRate: Double
    var faultTicks = 250
    /// Once faults stop, a leader must exist and all pending writes must commit within this.
    var livenessBound = 600
    var membershipChanges = true
    /// Leader churn: frequently crash or isolate the leader (exercises elections and log repair).
    var churn = false
    /// Flapping leaders: isolate every new leader a few ticks after it is elected, so new
    /// leaders' entries (including their first, empty one) are often only partly replicated
    /// (the setting of the Raft paper's Figure 8).
    var flap = false
    var electionTick = 10
    var heartbeatTick = 2

    /// Derives a mixed configuration (size 3/5/7, fault rate) from a seed.
    static func mixed(seed: UInt64) -> SimOptions {
        var r = SplitMix64(seed: seed ^ 0xA5A5_5A5A_DEAD_BEEF)
        let sizes = [3, 3, 5, 5, 7]
        let rates = [0.0, 0.1, 0.3, 0.5, 0.8]
        var o = SimOptions(seed: seed, nodes: sizes[Int(r.next() % 5)], faultRate: rates[Int(r.next() % 5)])
        let mode = r.next() % 5
        o.churn = o.faultRate > 0 && mode < 2
        o.flap = o.faultRate > 0 && mode == 2
        if o.flap { o.faultTicks = 1000 }  // Figure-8 patterns need many leader changes
        return o
    }
}

/// A failed check, with everything needed to reproduce it.
struct SimFailure: Error, CustomStringConvertible {
    var check: String
    var detail: String
    var seed: UInt64
    var nodes: Int
    var faultRate: Double
    var tick: Int
    var description: String {
        "[\(check)] seed=\(seed) nodes=\(nodes) faultRate=\(faultRate) tick=\(tick): \(detail)\n"
            + "  reproduce: RAFT_SEED=\(seed) swift test --filter KVTests.RaftSimulationTests/replaySeed"
    }
}

struct SimStats {
    var committed = 0
    var leaders = 0
    var ticksToRecover = 0
    var ops = 0
}

/// One simulated node: the Raft core, its durable "disk" and the application state machine.
final class SimNode {
    let id: UInt64
    var raft: RaftNode?
    var disk: MemoryStorage
    var machine = RegisterMachine()
    var lastApplied: UInt64 = 0
    /// Outstanding linearizable reads: context -> (op, read index once known).
    var reads: [UInt64: (op: Int, index: UInt64?)] = [:]
    init(id: UInt64, disk: MemoryStorage) {
        self.id = id
        self.disk = disk
    }
}

struct ClientOp {
    var key: UInt8
    var isWrite: Bool
    var value: UInt64
    var request: UInt64
    var invoke: Int
    var complete: Int?
    var lastTry: Int
}

/// A cluster on a virtual clock with a hostile network, crashes that lose unpersisted state,
/// membership changes, snapshots and a register workload. Every step runs the safety checks.
final class Simulation {
    let opt: SimOptions
    var rng: SplitMix64
    var now = 0
    var clock = 0  // event counter for the history (strictly increasing)
    var nodes: [UInt64: SimNode] = [:]
    var removed: Set<UInt64> = []
    var joining: [UInt64: Int] = [:]
    var nextNodeID: UInt64
    struct InFlight { var at: Int; var msg: Message }
    var network: [InFlight] = []
    struct Link: Hashable { var from: UInt64; var to: UInt64 }
    var blocked: Set<Link> = []
    var faulty = true
    var drop = 0.0, dup = 0.0, maxDelay = 1, crashRate = 0.0, partitionRate = 0.0, deferRate = 0.0
    var compactEvery: UInt64
    var flapSeen: UInt64 = 0
    var flapAt = -1
    var flapVictim: UInt64?

    // Checker state.
    var committed: [UInt64: Entry] = [:]
    var maxCommitted: UInt64 = 0
    struct IndexTerm: Hashable { var index: UInt64; var term: UInt64 }
    var persisted: [IndexTerm: (prevTerm: UInt64?, entry: Entry)] = [:]
    var leaderOfTerm: [UInt64: UInt64] = [:]
    var membershipView = Membership()
    var previousMembership = Membership()
    var ops: [ClientOp] = []
    var pendingWrites: [UInt64: Int] = [:]  // request -> op
    var nextRequest: UInt64 = 1
    var stats = SimStats()
    var trace = false
    func log(_ s: @autoclosure () -> String) { if trace { print("t=\(now) \(s())") } }

    init(_ opt: SimOptions) {
        self.opt = opt
        rng = SplitMix64(seed: opt.seed)
        nextNodeID = UInt64(opt.nodes) + 1
        compactEvery = 10 + rng.next() % 40
        let f = opt.faultRate
        drop = 0.15 * f
        dup = 0.1 * f
        maxDelay = 1 + Int(8 * f)
        crashRate = 0.05 * f
        partitionRate = 0.06 * f
        deferRate = 0.3 * f
        let ids = (1...UInt64(opt.nodes)).map { $0 }
        for id in ids { addNode(id, disk: MemoryStorage.bootstrap(voters: ids)) }
        membershipView = Membership(voters: Set(ids))
        previousMembership = membershipView
        for (i, id) in ids.enumerated() { committed[UInt64(i + 1)] = nodes[id]!.disk.entries[i] }
        maxCommitted = UInt64(ids.count)
    }

    func config(_ id: UInt64) -> RaftConfig {
        // Mostly the production settings; some seeds run without pre-vote or check-quorum.
        let variant = opt.seed % 10
        return RaftConfig(id: id, electionTick: opt.electionTick, heartbeatTick: opt.heartbeatTick,
                          maxEntriesPerMessage: [1, 2, 8, 64][Int(opt.seed / 10 % 4)],
                          maxInflightMessages: [1, 4, 16][Int(opt.seed / 40 % 3)],
                          preVote: variant != 7, checkQuorum: variant != 8,
                          randomSeed: opt.seed)
    }

    func addNode(_ id: UInt64, disk: MemoryStorage) {
        let n = SimNode(id: id, disk: disk)
        n.raft = RaftNode(config: config(id), storage: disk)
        nodes[id] = n
        refreshAlive()
    }

    func fail(_ check: String, _ detail: String) -> SimFailure {
        SimFailure(check: check, detail: detail, seed: opt.seed, nodes: opt.nodes, faultRate: opt.faultRate, tick: now)
    }

    func chance(_ p: Double) -> Bool { p > 0 && Double(rng.next() % 1_000_000) < p * 1_000_000 }
    func pick<T>(_ a: [T]) -> T? { a.isEmpty ? nil : a[Int(rng.next() % UInt64(a.count))] }
    /// Ids of running nodes, sorted (recomputed only when a node starts or stops).
    var aliveIDs: [UInt64] = []
    func refreshAlive() { aliveIDs = nodes.keys.filter { nodes[$0]!.raft != nil }.sorted() }

    // MARK: - Run

    func run() throws(SimFailure) -> SimStats {
        for _ in 0..<opt.faultTicks { try step() }
        heal()
        let healedAt = now
        // One more write after the faults: it must commit too.
        newWrite()
        while !livenessDone() {
            if now - healedAt > opt.livenessBound {
                throw fail("liveness", "no stable leader with all \(pendingWrites.count) pending writes committed within \(opt.livenessBound) ticks after faults stopped; leaders: \(currentLeaders())")
            }
            try step()
        }
        stats.ticksToRecover = now - healedAt
        try finalChecks()
        return stats
    }

    func step() throws(SimFailure) {
        now += 1
        deliver()
        for id in aliveIDs { nodes[id]!.raft!.tick() }
        clients()
        if faulty {
            injectFaults()
            changeMembership()
        }
        for id in aliveIDs { try processReady(id) }
        try checkInvariants()
    }

    func heal() {
        faulty = false
        blocked = []
        drop = 0; dup = 0; maxDelay = 2; deferRate = 0
        for id in nodes.keys.sorted() where nodes[id]!.raft == nil && !removed.contains(id) { restart(id) }
    }

    // MARK: - Network

    func send(_ m: Message) {
        if blocked.contains(Link(from: m.from, to: m.to)) || chance(drop) { return }
        network.append(InFlight(at: now + 1 + Int(rng.next() % UInt64(maxDelay)), msg: m))
        if chance(dup) { network.append(InFlight(at: now + 1 + Int(rng.next() % UInt64(maxDelay + 3)), msg: m)) }
    }

    func deliver() {
        var due: [Message] = []
        var rest: [InFlight] = []
        for f in network { if f.at <= now { due.append(f.msg) } else { rest.append(f) } }
        network = rest
        if faulty { due.shuffle(using: &rng) }
        for m in due {
            guard let n = nodes[m.to], n.raft != nil, !blocked.contains(Link(from: m.from, to: m.to)) else { continue }
            log("deliver \(m.kind) \(m.from)->\(m.to) term=\(m.term) idx=\(m.index) logTerm=\(m.logTerm) n=\(m.entries.count) commit=\(m.commit) rej=\(m.reject) hint=\(m.rejectHint)")
            n.raft!.step(m)
        }
    }

    // MARK: - Faults

    func injectFaults() {
        if opt.flap { flapLeaders() }
        if opt.churn {
            let down = nodes.keys.filter { nodes[$0]!.raft == nil && !removed.contains($0) }.sorted()
            if chance(0.04), let l = bestLeader() {
                if rng.next() % 2 == 0 && down.count < opt.nodes / 2 {
                    crash(l)
                } else {
                    let ids = nodes.keys.filter { !removed.contains($0) }.sorted()
                    blocked = []
                    for y in ids where y != l {
                        if rng.next() % 3 != 0 { blocked.insert(Link(from: y, to: l)); blocked.insert(Link(from: l, to: y)) }
                    }
                }
            }
            if chance(0.08), let id = pick(down) { restart(id) }
            if chance(0.03) { blocked = [] }
        }
        if chance(crashRate) {
            // Leaders are the interesting victims: half the crashes hit one.
            let victims = rng.next() % 2 == 0 && !currentLeaders().isEmpty ? currentLeaders() : aliveIDs
            if let id = pick(victims) { crash(id) }
        }
        let down = nodes.keys.filter { nodes[$0]!.raft == nil && !removed.contains($0) }.sorted()
        if chance(crashRate * 3), let id = pick(down) { restart(id) }
        if chance(partitionRate) {
            let ids = nodes.keys.filter { !removed.contains($0) }.sorted()
            blocked = []
            switch rng.next() % 4 {
            case 0:  // symmetric split
                let side = Set(ids.filter { _ in rng.next() % 2 == 0 })
                for a in ids { for b in ids where side.contains(a) != side.contains(b) { blocked.insert(Link(from: a, to: b)) } }
            case 1:  // asymmetric: one node cannot hear (or cannot be heard by) the others
                if let x = pick(currentLeaders().isEmpty ? ids : currentLeaders() + ids) {
                    let inbound = rng.next() % 2 == 0
                    for y in ids where y != x { blocked.insert(inbound ? Link(from: y, to: x) : Link(from: x, to: y)) }
                }
            case 2:  // random one-way link failures
                for a in ids { for b in ids where a != b && rng.next() % 4 == 0 { blocked.insert(Link(from: a, to: b)) } }
            default:
                break  // heal
            }
        }
        if chance(0.005 * opt.faultRate + 0.002), let l = currentLeaders().first,
           let target = pick(membershipView.voters.sorted().filter { $0 != l && nodes[$0]?.raft != nil }) {
            try? nodes[l]!.raft!.transferLeadership(to: target)
        }
    }

    func flapLeaders() {
        if let l = bestLeader() {
            let t = nodes[l]!.raft!.term
            if flapSeen != t {
                flapSeen = t
                flapAt = now + 1 + Int(rng.next() % 12)
                flapVictim = l
            }
        }
        if now == flapAt, let v = flapVictim, nodes[v]?.raft?.role == .leader {
            if rng.next() % 4 == 0 {
                crash(v)
            } else {
                for y in nodes.keys where y != v {
                    blocked.insert(Link(from: y, to: v))
                    blocked.insert(Link(from: v, to: y))
                }
            }
        }
        if chance(0.06) { blocked = [] }
        let down = nodes.keys.filter { nodes[$0]!.raft == nil && !removed.contains($0) }.sorted()
        if chance(0.1), let id = pick(down) { restart(id) }
    }

    func crash(_ id: UInt64) {
        guard let n = nodes[id] else { return }
        log("crash \(id)")
        n.raft = nil  // everything not persisted is lost
        refreshAlive()
        n.reads = [:]
    }

    func restart(_ id: UInt64) {
        guard let n = nodes[id] else { return }
        n.raft = RaftNode(config: config(id), storage: n.disk)
        refreshAlive()
        log("restart \(id) disk last=\(n.disk.lastIndex) hs=\(n.disk.hardState)")
        n.machine = n.disk.snapshot.isEmpty ? RegisterMachine() : RegisterMachine(snapshotData: n.disk.snapshot.data)
        n.lastApplied = n.disk.snapshot.metadata.index
    }

    func currentLeaders() -> [UInt64] {
        aliveIDs.filter { nodes[$0]!.raft!.role == .leader }
    }

    /// The leader with the highest term (there may be stale ones in a partition).
    func bestLeader() -> UInt64? {
        currentLeaders().max { nodes[$0]!.raft!.term < nodes[$1]!.raft!.term }
    }

    func changeMembership() {
        for (id, since) in joining.sorted(by: { $0.key < $1.key }) where now - since > 100 { removeForever(id) }
        guard opt.membershipChanges, chance(0.02), let l = bestLeader() else { return }
        let leader = nodes[l]!.raft!
        let view = leader.membership
        var change: ConfChange?
        if let learner = view.learners.sorted().first(where: { !removed.contains($0) && nodes[$0]?.raft != nil }),
           let m = leader.matchIndex(of: learner), m + 2 >= leader.commitIndex {
            change = ConfChange(.addVoter, nodeID: learner)  // caught up: promote
        } else if let dead = view.learners.sorted().first(where: { removed.contains($0) }) {
            change = ConfChange(.remove, nodeID: dead)
        } else if view.learners.isEmpty && view.voters.count <= opt.nodes && rng.next() % 2 == 0 {
            let id = nextNodeID
            nextNodeID += 1
            addNode(id, disk: MemoryStorage())
            joining[id] = now
            change = ConfChange(.addLearner, nodeID: id)
        } else if view.voters.count >= opt.nodes, view.voters.count > 2, let victim = pick(view.voters.sorted()) {
            change = ConfChange(.remove, nodeID: victim)
        }
        guard let c = change else { return }
        do throws(RaftError) { try nodes[l]!.raft!.proposeMembershipChange(c) } catch {
            if c.kind == .addLearner { removeForever(c.nodeID) }
        }
    }

    func removeForever(_ id: UInt64) {
        removed.insert(id)
        crash(id)
        joining[id] = nil
    }

    // MARK: - Clients

    func newWrite() {
        let key = UInt8(rng.next() % 3)
        let req = nextRequest
        nextRequest += 1
        clock += 1
        ops.append(ClientOp(key: key, isWrite: true, value: req, request: req, invoke: clock, complete: nil, lastTry: -1000))
        pendingWrites[req] = ops.count - 1
        stats.ops += 1
    }

    func clients() {
        let members = aliveIDs.filter { membershipView.allNodes.contains($0) }
        if faulty && pendingWrites.count < 6 && chance(0.25) {
            if rng.next() % 10 < 6 { newWrite() } else if let at = pick(members) { newRead(at) }
        }
        // (Re)submit pending writes: first try at once, then retry with back-off, at a random
        // member (followers forward to the leader).
        for (req, k) in pendingWrites.sorted(by: { $0.key < $1.key }) where now - ops[k].lastTry >= 15 {
            ops[k].lastTry = now
            guard let at = pick(members) ?? pick(aliveIDs) else { continue }
            let w = RegisterMachine.Write(request: req, key: ops[k].key, value: ops[k].value)
            try? nodes[at]!.raft!.propose(RegisterMachine.encode(w))
        }
    }

    func newRead(_ at: UInt64) {
        let req = nextRequest
        nextRequest += 1
        var ctx: [UInt8] = []
        RegisterMachine.appendU64(&ctx, req)
        do throws(RaftError) { try nodes[at]!.raft!.readIndex(context: ctx) } catch { return }
        clock += 1
        ops.append(ClientOp(key: UInt8(rng.next() % 3), isWrite: false, value: 0, request: req, invoke: clock, complete: nil, lastTry: now))
        nodes[at]!.reads[req] = (ops.count - 1, nil)
        stats.ops += 1
    }

    // MARK: - Ready handling

    func processReady(_ id: UInt64) throws(SimFailure) {
        let n = nodes[id]!
        guard n.raft?.hasReady == true else { return }
        if faulty && chance(deferRate) { return }  // not yet fsynced: a crash now loses it
        let rd = n.raft!.ready()
        log("ready \(id) role=\(rd.role) term=\(n.raft!.term) hs=\(String(describing: rd.hardState)) ents=\(rd.entries.map { "\($0.index)/\($0.term)" }) committed=\(rd.committedEntries.map { $0.index }) snap=\(rd.snapshot?.metadata.index ?? 0) msgs=\(rd.messages.count)")
        for e in rd.entries {
            let prev = e.index > 1 ? n.raft!.logTerm(at: e.index - 1) : 0
            let key = IndexTerm(index: e.index, term: e.term)
            if let seen = persisted[key] {
                if seen.entry != e || (seen.prevTerm != nil && prev != nil && seen.prevTerm != prev) {
                    throw fail("log matching", "node \(id) has entry (index \(e.index), term \(e.term)) that differs from another node's")
                }
            } else {
                persisted[key] = (prev, e)
            }
            // A lagging node may hold stale entries past its own commit index; entries at or
            // below its commit index must be the committed ones.
            if e.index <= n.raft!.commitIndex, let c = committed[e.index], c.term != e.term {
                throw fail("committed entry overwritten", "node \(id) persists term \(e.term) at committed index \(e.index) (term \(c.term))")
            }
        }
        n.disk.persist(rd)
        for m in rd.messages { send(m) }
        if let snap = rd.snapshot {
            if let c = committed[snap.metadata.index], c.term != snap.metadata.term {
                throw fail("state machine safety", "node \(id) installed a snapshot that disagrees with committed index \(snap.metadata.index)")
            }
            n.machine = RegisterMachine(snapshotData: snap.data)
            n.lastApplied = snap.metadata.index
        }
        for e in rd.committedEntries {
            guard e.index == n.lastApplied + 1 else {
                throw fail("apply order", "node \(id) applies \(e.index) after \(n.lastApplied)")
            }
            try recordCommitted(e, by: id)
            n.lastApplied = e.index
            if let w = n.machine.apply(e), let k = pendingWrites[w.request] {
                clock += 1
                ops[k].complete = clock
                pendingWrites[w.request] = nil
            }
        }
        guard n.raft != nil else { return }  // it applied its own removal and was shut down
        for rs in rd.readStates {
            let ctx = rs.context.count == 8 ? RegisterMachine.readU64(rs.context, 0) : 0
            if let r = n.reads[ctx], r.index == nil { n.reads[ctx] = (r.op, rs.index) }
        }
        n.raft!.advance(rd)
        for (ctx, r) in n.reads.sorted(by: { $0.key < $1.key }) {
            if let idx = r.index, idx <= n.lastApplied {
                clock += 1
                ops[r.op].complete = clock
                ops[r.op].value = n.machine.values[ops[r.op].key] ?? 0
                n.reads[ctx] = nil
            } else if now - ops[r.op].lastTry > 60 {
                n.reads[ctx] = nil  // client gave up: the read stays incomplete (dropped)
            }
        }
        if n.raft != nil, n.lastApplied >= n.raft!.firstIndex + compactEvery {
            do throws(RaftError) {
                let snap = try n.raft!.compact(upTo: n.lastApplied, data: n.machine.snapshotData())
                n.disk.compact(with: snap)
            } catch {
                throw fail("compaction", "\(error)")
            }
        }
    }

    func recordCommitted(_ e: Entry, by id: UInt64) throws(SimFailure) {
        if let c = committed[e.index] {
            if c != e {
                throw fail("state machine safety", "node \(id) applied \(e) at \(e.index), another node applied \(c)")
            }
            return
        }
        committed[e.index] = e
        maxCommitted = max(maxCommitted, e.index)
        stats.committed += 1
        if e.kind == .configChange, let cc = ConfChange(decoding: e.data) {
            previousMembership = membershipView
            membershipView.apply(cc)
            joining[cc.nodeID] = nil
            if cc.kind == .remove { removeForever(cc.nodeID) }
        }
    }
}
