import KV
import Testing

/// Scripted scenarios for individual features, plus checker self-tests.
@Suite struct RaftScenarioTests {
    @Test func electsLeaderAndReplicates() throws {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        #expect(c.leaders == [1])
        try c.nodes[1]!.propose([7])
        c.stabilize()
        for id in [UInt64(1), 2, 3] { #expect(c.applied[id]?.last?.data == [7]) }
    }

    @Test func followerForwardsOrReportsLeader() throws {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        try c.nodes[2]!.propose([9])  // forwarded
        c.stabilize()
        #expect(c.applied[3]?.last?.data == [9])

        var d = ScriptedCluster(voters: [1, 2, 3]) { $0.disableProposalForwarding = true }
        #expect(throws: RaftError.notLeader(leaderHint: nil)) { try d.nodes[2]!.propose([1]) }
        d.nodes[1]!.campaign()
        d.stabilize()
        #expect(throws: RaftError.notLeader(leaderHint: 1)) { try d.nodes[2]!.propose([1]) }
    }

    @Test func readIndexOnFollower() throws {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        try c.nodes[1]!.propose([1])
        c.stabilize()
        try c.nodes[3]!.readIndex(context: [0xAB])
        c.stabilize()
        let rs = try #require(c.readStates[3]?.last)
        #expect(rs.context == [0xAB])
        #expect(rs.index == c.nodes[1]!.commitIndex)
    }

    @Test func leadershipTransfer() throws {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        try c.nodes[1]!.transferLeadership(to: 3)
        c.stabilize()
        #expect(c.leaders == [3])
    }

    @Test func checkQuorumLeaderStepsDown() {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        c.tickAll(25, only: [1])  // followers never answer
        c.stabilize(allow: { _ in false })
        #expect(c.nodes[1]!.role == .follower)
    }

    @Test func learnerCatchesUpAndIsPromoted() throws {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        for i in 0..<20 { try c.nodes[1]!.propose([UInt8(i)]) }
        c.stabilize()
        c.add(4)
        try c.nodes[1]!.proposeMembershipChange(ConfChange(.addLearner, nodeID: 4))
        #expect(throws: RaftError.membershipChangeInProgress(pendingIndex: c.nodes[1]!.lastIndex)) {
            try c.nodes[1]!.proposeMembershipChange(ConfChange(.addVoter, nodeID: 4))
        }
        c.tickAll(2)
        c.stabilize()
        #expect(c.nodes[1]!.membership.learners == [4])
        #expect(c.nodes[1]!.matchIndex(of: 4) == c.nodes[1]!.lastIndex)
        try c.nodes[1]!.proposeMembershipChange(ConfChange(.addVoter, nodeID: 4))
        c.tickAll(2)
        c.stabilize()
        for id in [UInt64(1), 2, 3, 4] { #expect(c.nodes[id]!.membership.voters == [1, 2, 3, 4]) }
        #expect(c.applied[4]?.count == c.applied[1]?.count)
    }

    @Test func laggingFollowerGetsSnapshot() throws {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        for i in 0..<30 {
            try c.nodes[1]!.propose([UInt8(i)])
            c.stabilize(allow: { $0.to != 3 && $0.from != 3 })
        }
        for id in [UInt64(1), 2] {
            let snap = try c.nodes[id]!.compact(upTo: c.nodes[id]!.appliedIndex, data: [1, 2, 3])
            c.disks[id]!.compact(with: snap)
        }
        c.tickAll(3, only: [1])
        c.stabilize()
        #expect(c.snapshotsInstalled[3] == 1)
        #expect(c.nodes[3]!.commitIndex == c.nodes[1]!.commitIndex)
        #expect(c.disks[3]!.snapshot.data == [1, 2, 3])
    }

    /// Raft paper Figure 8: an entry from an earlier term replicated on a majority must not be
    /// committed by counting. If it were (the broken rule), node 5 could later be elected
    /// without it and overwrite it.
    @Test func figure8OldTermEntryIsNotCommittedByCounting() throws {
        var c = ScriptedCluster(voters: [1, 2, 3, 4, 5]) {
            $0.preVote = false
            $0.checkQuorum = false
            $0.maxEntriesPerMessage = 1
            $0.maxInflightMessages = 1
        }
        c.nodes[1]!.campaign()
        c.stabilize()                                   // term 2, everyone has index 6
        try c.nodes[1]!.propose([0xA])                  // index 7, term 2
        c.stabilize(allow: { $0.from == 2 || $0.to == 2 })  // only node 2 gets it
        c.inbox = []
        c.nodes[5]!.campaign()                          // term 3 with votes from 3, 4
        c.stabilize(allow: { [3, 4, 5].contains($0.from) && [3, 4, 5].contains($0.to) && $0.kind != .append })
        #expect(c.nodes[5]!.role == .leader)
        c.inbox = []                                    // its index 7 (term 3) reaches nobody
        c.nodes[1]!.step(Message(kind: .heartbeat, from: 5, to: 1, term: 3))  // node 1 steps down
        c.flush()
        c.inbox = []
        #expect(c.nodes[1]!.role == .follower)
        c.nodes[1]!.campaign()                          // term 4 with votes from 2, 3
        c.stabilize(allow: { [1, 2, 3].contains($0.from) && [1, 2, 3].contains($0.to) && $0.kind != .append && $0.kind != .appendResponse })
        #expect(c.nodes[1]!.role == .leader)
        // Node 3 receives index 7 (term 2) alone and acks it; node 2 acks the term-4 no-op
        // (index 8). Index 7 is now on nodes 1, 2 and 3: a majority, but from term 2.
        c.inbox = []
        c.nodes[1]!.tick()                              // heartbeats restart replication
        final class Count { var appendsTo3With8 = 0 }
        let count = Count()
        c.stabilize(allow: { m in
            if m.from == 1 && m.to == 3 && m.kind == .append && m.entries.contains(where: { $0.index == 8 }) {
                count.appendsTo3With8 += 1
                return count.appendsTo3With8 == 1      // the first one is rejected (node 3 lacks 7)
            }
            return ([2, 3].contains(m.to) && m.from == 1) || ([2, 3].contains(m.from) && m.to == 1)
        })
        let committedBy1 = c.nodes[1]!.commitIndex
        c.inbox = []
        c.nodes[5]!.step(Message(kind: .heartbeat, from: 1, to: 5, term: 4))  // node 5 steps down
        c.flush()
        c.inbox = []
        c.nodes[1] = nil                                // node 1 crashes
        c.nodes[5]!.campaign()                          // term 5 with votes from 3, 4
        c.stabilize(allow: { [3, 4, 5].contains($0.from) && [3, 4, 5].contains($0.to) })
        #expect(c.nodes[5]!.role == .leader && c.nodes[5]!.term == 5)
        // Leader completeness: whoever leads now holds everything node 1 committed.
        for l in c.leaders {
            for i in 1...committedBy1 {
                #expect(c.nodes[l]!.logTerm(at: i) == c.disks[2]!.entries.first { $0.index == i }?.term,
                        "leader \(l) lacks entry \(i) committed by node 1 (leader completeness)")
            }
        }
    }

    @Test func leaseReadAnswersWithoutRoundTrip() throws {
        var c = ScriptedCluster(voters: [1, 2, 3]) { $0.readOnlyOption = .leaseBased }
        c.nodes[1]!.campaign()
        c.stabilize()
        try c.nodes[1]!.readIndex(context: [7])
        c.flush()  // no message delivered
        #expect(c.readStates[1]?.last == ReadState(index: c.nodes[1]!.commitIndex, context: [7]))
    }

    @Test func removedLeaderStepsDownAndOthersElect() throws {
        var c = ScriptedCluster(voters: [1, 2, 3])
        c.nodes[1]!.campaign()
        c.stabilize()
        try c.nodes[1]!.proposeMembershipChange(ConfChange(.remove, nodeID: 1))
        c.stabilize()
        #expect(c.nodes[1]!.role == .follower)
        #expect(c.nodes[1]!.membership.voters == [2, 3])
        for _ in 0..<40 {
            c.tickAll(1, only: [2, 3])
            c.stabilize(allow: { $0.to != 1 })
        }
        #expect(c.leaders.count == 1 && c.leaders.first != 1)
        #expect(throws: RaftError.invalidMembershipChange(reason: "1 is not a member")) {
            try c.nodes[c.leaders[0]]!.proposeMembershipChange(ConfChange(.remove, nodeID: 1))
        }
    }

    @Test func simulationIsDeterministic() throws {
        let a = try Simulation(SimOptions.mixed(seed: 77)).run()
        let b = try Simulation(SimOptions.mixed(seed: 77)).run()
        #expect(a.committed == b.committed && a.ticksToRecover == b.ticksToRecover && a.ops == b.ops)
    }
}
