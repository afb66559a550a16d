import TestSupport
import KV

/// The safety checks run after every simulation step, the liveness condition and the final
/// checks (convergence and linearizability of the client history).
extension Simulation {
    func checkInvariants() throws(SimFailure) {
        for id in aliveIDs {
            let r = nodes[id]!.raft!
            if r.sawCommittedConflict {
                throw fail("committed entry overwritten", "node \(id) was asked to overwrite a committed entry")
            }
            guard r.role == .leader else { continue }
            // Election safety: at most one leader per term.
            if let other = leaderOfTerm[r.term] {
                if other != id { throw fail("election safety", "nodes \(other) and \(id) are both leader in term \(r.term)") }
                continue
            }
            leaderOfTerm[r.term] = id
            stats.leaders += 1
            // Leader completeness: a new leader holds every entry committed so far.
            for (i, e) in committed where i >= r.firstIndex {
                if r.logTerm(at: i) != e.term {
                    throw fail("leader completeness", "leader \(id) of term \(r.term) lacks committed entry \(i) (term \(e.term)); has \(String(describing: r.logTerm(at: i)))")
                }
            }
            if r.lastIndex < maxCommitted {
                throw fail("leader completeness", "leader \(id) of term \(r.term) ends at \(r.lastIndex) < committed \(maxCommitted)")
            }
        }
        // Durability: the newest committed entry is on the disks of a quorum of the
        // configuration that committed it (the one before the newest change, or the newest), so
        // no crash pattern can lose it. A node removed by that very entry still counts: its disk
        // was part of the committing quorum.
        if let e = committed[maxCommitted] {
            var holders = 0
            for (_, n) in nodes {
                let d = n.disk
                if d.snapshot.metadata.index >= e.index { holders += 1; continue }
                let base = d.snapshot.metadata.index
                let k = Int(e.index - base - 1)
                if k < d.entries.count && d.entries[k].term == e.term { holders += 1 }
            }
            let need = min(previousMembership.voters.count, membershipView.voters.count) / 2 + 1
            if holders < need {
                throw fail("committed entry lost", "committed entry \(e.index) is durable on only \(holders) nodes (need \(need))")
            }
        }
    }

    /// Faults have stopped: one leader, all pending writes applied, all members caught up.
    func livenessDone() -> Bool {
        guard pendingWrites.isEmpty, let l = bestLeader() else { return false }
        let leader = nodes[l]!.raft!
        guard leader.commitIndex == leader.lastIndex, leader.term(ofLeaderCheck: ()) else { return false }
        for id in aliveIDs where membershipView.allNodes.contains(id) {
            let n = nodes[id]!
            if n.lastApplied != leader.commitIndex || (id != l && n.raft!.leaderID != l) { return false }
        }
        return true
    }

    func finalChecks() throws(SimFailure) {
        // Convergence: all members applied the same state.
        var reference: RegisterMachine?
        for id in aliveIDs where membershipView.allNodes.contains(id) {
            let m = nodes[id]!.machine
            if let ref = reference, ref != m {
                throw fail("state machine safety", "node \(id) state differs after convergence")
            }
            reference = m
        }
        // No committed entry was lost: the final state contains every completed write.
        if let ref = reference {
            for op in ops where op.isWrite && op.complete != nil && !ref.appliedRequests.contains(op.request) {
                throw fail("committed entry lost", "write \(op.request) completed but is missing from the final state")
            }
        }
        // Linearizability of the client history, per key (the checker the fault suite uses too).
        // Writes carry their request number (from 1); a read of 0 saw the register unset.
        let history = ops.filter { $0.isWrite || $0.complete != nil }.map { op in
            RegisterOperation(client: 0, key: String(op.key),
                              kind: op.isWrite ? .write(String(op.value)) : .read(op.value == 0 ? nil : String(op.value)),
                              outcome: op.complete == nil ? .unknown : .ok,
                              invoked: UInt64(op.invoke), completed: UInt64(op.complete ?? 0))
        }
        let report = RegisterLinearizability.check(history)
        if !report.isLinearizable {
            throw fail("linearizability", "history of keys \(report.violations.count) violated, \(report.undetermined) undetermined "
                + "(\(history.count) ops)")
        }
    }
}

extension RaftNode {
    /// True once the leader has committed an entry of its own term.
    func term(ofLeaderCheck _: Void) -> Bool { logTerm(at: commitIndex) == term }
}
