#if canImport(Glibc)
import Glibc
#endif
import TestSupport
@testable import KV

/// One randomized fault run on real machines: boot `members` machines with a KV member each, run
/// clients and the nemesis for `seconds`, heal, then check the history for linearizability, every
/// acknowledged write on every member, and equal store hashes at equal indices.
struct FaultRun {
    var members: Int
    var seconds: Int
    var clients: Int
    var seed: UInt64

    /// What a run found; `markdown` is the row the report file gets.
    struct Summary: Sendable, CustomStringConvertible {
        var members: Int
        var seconds: Int
        var seed: UInt64
        var faults: [Nemesis.Fault: Int]
        var operations: Int
        var acknowledged: Int
        var failed: Int
        var unknown: Int
        var checked: Int
        var violations: [RegisterLinearizability.Verdict]
        var undeterminedKeys: [String]
        var logWritesAcknowledged: Int
        var logWritesLost: Int
        var storeHashes: [String]
        var hashIndex: UInt64
        var electionTimes: [Duration]
        var problems: [String]

        var diverged: Bool { Set(storeHashes).count != 1 }
        var faultCount: Int { faults.values.reduce(0, +) }

        static func ms(_ d: Duration) -> Int {
            Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        }

        var electionText: String {
            guard !electionTimes.isEmpty else { return "-" }
            let ms = electionTimes.map(Self.ms).sorted()
            return "\(ms.count) kills: min \(ms.first!) / median \(ms[ms.count / 2]) / max \(ms.last!) ms"
        }

        var description: String {
            """
            fault run: \(members) members, \(seconds) s, seed \(seed)
              faults injected: \(faultCount) (\(faults.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")))
              register operations: \(operations) (ok \(acknowledged), failed \(failed), unknown \(unknown)); checked \(checked)
              linearizability violations: \(violations.count); undetermined keys: \(undeterminedKeys)
              unique writes acknowledged: \(logWritesAcknowledged), lost: \(logWritesLost)
              store hashes at index \(hashIndex): \(storeHashes) (diverged: \(diverged))
              time to new leader after SIGKILL of leader: \(electionText)
              problems: \(problems.isEmpty ? "none" : problems.joined(separator: "; "))
            """
        }

        var markdownRow: String {
            "| \(members) | \(seconds) s | \(seed) | \(faultCount) | \(operations) | \(checked) | \(unknown) | \(violations.count) | "
                + "\(logWritesAcknowledged) | \(logWritesLost) | \(diverged ? "yes" : "no") | \(electionText) |"
        }
    }

    func execute() async throws -> Summary {
        let bed = try await Testbed.boot("flt", machines: members)
        defer { bed.shutdown() }
        let cluster = KVMachineCluster(bed: bed)
        try await cluster.bootstrap()
        let load = RegisterClients(cluster: cluster)
        defer { load.shutdown() }
        let probe = ClusterProbe(cluster: cluster, client: load.client)
        let nemesis = Nemesis(cluster: cluster, probe: probe, seed: seed)
        try await nemesis.recover(seconds: 60)

        let deadline = ContinuousClock.now + .seconds(seconds)
        async let faults: Void = nemesis.run(until: deadline)
        await load.run(clients: clients, until: deadline, seed: seed)
        try await faults
        try await nemesis.heal()
        try await nemesis.recover()

        // Final quorum reads of every register join the history: a lost write shows up there.
        for key in RegisterClients.registerKeys {
            for i in cluster.currentMembers.sorted() { await load.read(client: 1000 + i, member: i, key: key) }
        }
        let (index, hashes) = try await quiescentHashes(cluster, probe)
        let lost = try await lostLogWrites(cluster, probe, load.acknowledgedLogWrites)

        let history = load.operations
        let report = RegisterLinearizability.check(history)
        return Summary(
            members: members, seconds: seconds, seed: seed, faults: nemesis.injected,
            operations: history.count,
            acknowledged: history.filter { $0.outcome == .ok }.count,
            failed: history.filter { $0.outcome == .failed }.count,
            unknown: history.filter { $0.outcome == .unknown }.count,
            checked: report.operationsChecked, violations: report.violations, undeterminedKeys: report.undetermined,
            logWritesAcknowledged: load.acknowledgedLogWrites.count, logWritesLost: lost,
            storeHashes: hashes, hashIndex: index, electionTimes: nemesis.electionTimes, problems: nemesis.problems)
    }

    /// Waits until every member reports the same store index (no writes are in flight any more),
    /// then returns that index and each member's hash of its store there.
    private func quiescentHashes(_ cluster: KVMachineCluster, _ probe: ClusterProbe) async throws -> (UInt64, [String]) {
        let deadline = ContinuousClock.now + .seconds(30)
        var seen: [(index: UInt64, hash: String)?] = []
        while ContinuousClock.now < deadline {
            seen = []
            for i in cluster.currentMembers.sorted() { seen.append(await probe.storeHash(i)) }
            let found = seen.compactMap { $0 }
            if found.count == seen.count, Set(found.map(\.index)).count == 1 { return (found[0].index, found.map(\.hash)) }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw FaultRunError.timeout("members did not reach the same store index: \(seen.map { $0.map { "\($0.index)" } ?? "-" })")
    }

    /// How many acknowledged unique writes some member lacks (members are quiescent: local reads).
    private func lostLogWrites(_ cluster: KVMachineCluster, _ probe: ClusterProbe, _ acked: [String: String]) async throws -> Int {
        var lost = Set<String>()
        for i in cluster.currentMembers.sorted() {
            let r = try await probe.client.execute(.GET, cluster.endpoint(i), "/v2/keys\(RegisterClients.logPrefix)?recursive=true",
                                                   timeout: 10)
            var present: [String: String] = [:]
            for node in MiniJSON.parse(r.bodyString)?["node"]?["nodes"]?.arrayValue ?? [] {
                if let k = node["key"]?.stringValue, let v = node["value"]?.stringValue { present[k] = v }
            }
            for (k, v) in acked where present[k] != v { lost.insert(k) }
        }
        return lost.count
    }
}
