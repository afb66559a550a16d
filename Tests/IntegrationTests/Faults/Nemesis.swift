import NIOCore
import NIOHTTP1
import TestSupport
@testable import KV

/// The randomized fault schedule of a run: one fault at a time, held for a while, then healed and
/// the cluster given time to recover, until the deadline. Every choice comes from the run's seed.
///
/// Faults: partitions (majority/minority, with the leader on either side; a bridge on 5 members;
/// one-way drops) via nftables in the machines' namespaces, link cuts on the bridge, SIGKILL and
/// SIGSTOP of members and of the leader (restart / SIGCONT when healing), and removing a member
/// and adding it back as a new one through `/v2/members`.
final class Nemesis: @unchecked Sendable {
    enum Fault: String, CaseIterable, Sendable {
        case killLeader, killMember, pauseLeader, pauseMember, partitionMajority, partitionLeaderMinority, bridge,
             oneWay, cutLink, removeAndAddMember
    }

    let cluster: KVMachineCluster
    let network: NetworkFaults
    let probe: ClusterProbe
    private var rng: SplitMix64
    /// Only touched by the nemesis task.
    private(set) var injected: [Fault: Int] = [:]
    private(set) var electionTimes: [Duration] = []
    private(set) var problems: [String] = []
    private var killed = Set<Int>()
    private var paused = Set<Int>()

    init(cluster: KVMachineCluster, probe: ClusterProbe, seed: UInt64) {
        self.cluster = cluster
        self.network = NetworkFaults(bed: cluster.bed)
        self.probe = probe
        self.rng = SplitMix64(seed: seed)
    }

    func random(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

    var faults: [Fault] { cluster.size >= 5 ? Fault.allCases : Fault.allCases.filter { $0 != .bridge } }

    /// Injects faults until `deadline`, then heals everything and waits for the cluster to recover.
    func run(until deadline: ContinuousClock.Instant) async throws {
        try await recover()
        while ContinuousClock.now + .seconds(4) < deadline {
            let fault = faults[random(faults.count)]
            try await inject(fault)
            injected[fault, default: 0] += 1
            try await Task.sleep(for: .milliseconds(1000 + random(2000)))
            try await heal()
            try await recover()
            try await Task.sleep(for: .milliseconds(300 + random(700)))
        }
    }

    private func running() -> [Int] { cluster.currentMembers.subtracting(killed).subtracting(paused).sorted() }

    private func inject(_ fault: Fault) async throws {
        let members = running()
        let leader = await probe.leader(among: members)
        let others = members.filter { $0 != leader }
        switch fault {
        case .killLeader:
            guard let leader else { return try await inject(.killMember) }
            try await cluster.signal(leader, "KILL")
            killed.insert(leader)
            await measureElection(after: leader, survivors: others)
        case .killMember:
            guard !others.isEmpty else { return }
            let victim = others[random(others.count)]
            try await cluster.signal(victim, "KILL")
            killed.insert(victim)
        case .pauseLeader:
            guard let leader else { return try await inject(.pauseMember) }
            try await cluster.signal(leader, "STOP")
            paused.insert(leader)
        case .pauseMember:
            guard !others.isEmpty else { return }
            let victim = others[random(others.count)]
            try await cluster.signal(victim, "STOP")
            paused.insert(victim)
        case .partitionMajority, .partitionLeaderMinority:
            var order = Array(cluster.machines.indices).shuffled(using: &rng)
            if fault == .partitionLeaderMinority, let leader, let at = order.firstIndex(of: leader) {
                order.swapAt(0, at)
            }
            let minority = Array(order.prefix(cluster.size / 2)), majority = Array(order.dropFirst(cluster.size / 2))
            try await network.partition([minority, majority])
        case .bridge:
            let order = Array(cluster.machines.indices).shuffled(using: &rng)
            try await network.partition([Array(order[0...2]), Array(order[2...4])])
        case .oneWay:
            let to = members.isEmpty ? 0 : members[random(members.count)]
            try await network.oneWay(from: cluster.machines.indices.filter { $0 != to }, to: to)
        case .cutLink:
            let order = Array(cluster.machines.indices).shuffled(using: &rng)
            for i in order.prefix(max(1, (cluster.size - 1) / 2)) { try await network.cut(i) }
        case .removeAndAddMember:
            guard let leader, !others.isEmpty else { return }
            try await removeAndAdd(others[random(others.count)], via: leader)
        }
    }

    /// Polls the survivors until one of them leads; records how long that took after the kill.
    private func measureElection(after old: Int, survivors: [Int]) async {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(15) {
            if let l = await probe.leader(among: survivors), l != old {
                electionTimes.append(ContinuousClock.now - start)
                return
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        problems.append("no new leader within 15 s after SIGKILL of leader m\(old + 1)")
    }

    /// Removes member `i` through the leader, wipes it, and adds it back as a new member.
    private func removeAndAdd(_ i: Int, via leader: Int) async throws {
        guard let id = await probe.memberID(peerURL: cluster.peerURL(i), via: leader) else { return }
        let removed = try? await probe.client.execute(.DELETE, cluster.endpoint(leader), "/v2/members/\(id)", timeout: 5)
        guard removed?.status == .noContent else {
            problems.append("removing m\(i + 1) answered \(removed.map { "\($0.status.code) \($0.bodyString)" } ?? "nothing")")
            return
        }
        cluster.markRemoved(i)
        if try await cluster.isRunning(i) { try await cluster.signal(i, "KILL") }
        try await cluster.waitStopped(i)
        try await cluster.wipe(i)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        let body = #"{"peerURLs":["\#(cluster.peerURL(i))"]}"#
        var added: HTTPClientResponse?
        let deadline = ContinuousClock.now + .seconds(15)
        // The removal may have moved leadership; any member forwards the proposal.
        while added?.status != .created && ContinuousClock.now < deadline {
            let via = running().filter { $0 != i }
            added = try? await probe.client.execute(.POST, cluster.endpoint(via[random(via.count)]), "/v2/members",
                                                   headers: headers, body: ByteBuffer(string: body), timeout: 5)
            if added?.status != .created { try await Task.sleep(for: .milliseconds(200)) }
        }
        guard added?.status == .created else {
            problems.append("adding m\(i + 1) back failed: \(added.map { "\($0.status.code) \($0.bodyString)" } ?? "no answer")")
            return
        }
        cluster.markAdded(i)
        try await cluster.start(i, joining: true)
    }

    /// Removes every network fault, continues paused members and restarts killed ones.
    func heal() async throws {
        try await network.heal()
        for i in paused.sorted() { try await cluster.signal(i, "CONT") }
        paused.removeAll()
        for i in killed.sorted() {
            try await cluster.waitStopped(i)
            if cluster.currentMembers.contains(i) { try await cluster.start(i, joining: false) }
        }
        killed.removeAll()
    }

    /// Waits (bounded) until every member runs and all follow one leader.
    func recover(seconds: Double = 30) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        let members = cluster.currentMembers.sorted()
        while ContinuousClock.now < deadline {
            if await probe.agreeOnLeader(members) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        var logs = ""
        for i in members { logs += "m\(i + 1):\n\(await cluster.log(i, lines: 15))\n" }
        throw FaultRunError.timeout("cluster did not agree on a leader within \(seconds) s after healing\n\(logs)")
    }
}
