/// Single-server membership changes. A change takes effect on each node when its entry is
/// committed; the leader allows one uncommitted change at a time.
extension RaftNode {
    /// Leader: proposes adding a voter, adding a learner, promoting a learner (`.addVoter` on a
    /// learner) or removing a node. Fails fast if another change is pending, so that the
    /// old and new configurations always differ by one server and their quorums overlap.
    public mutating func proposeMembershipChange(_ change: ConfChange) throws(RaftError) {
        guard role == .leader else {
            throw .notLeader(leaderHint: leaderID == 0 ? nil : leaderID)
        }
        if leadTransferee != 0 { throw .proposalDropped(reason: "leadership transfer to \(leadTransferee) in progress") }
        if pendingConfIndex > log.committed { throw .membershipChangeInProgress(pendingIndex: pendingConfIndex) }
        switch change.kind {
        case .addVoter:
            if membership.voters.contains(change.nodeID) {
                throw .invalidMembershipChange(reason: "\(change.nodeID) is already a voter")
            }
        case .addLearner:
            if membership.allNodes.contains(change.nodeID) {
                throw .invalidMembershipChange(reason: "\(change.nodeID) is already a member; remove it first")
            }
        case .remove:
            if !membership.allNodes.contains(change.nodeID) {
                throw .invalidMembershipChange(reason: "\(change.nodeID) is not a member")
            }
            if membership.voters.contains(change.nodeID) && membership.voters.count == 1 {
                throw .invalidMembershipChange(reason: "cannot remove the last voter")
            }
        }
        appendProposals([Entry(term: 0, index: 0, kind: .configChange, data: change.encoded())])
    }

    /// Applies config-change entries that are now committed, once each, in index order.
    /// (`appliedConfigIndex` is bumped before each change because applying one can advance
    /// the commit index and re-enter here.)
    mutating func applyCommittedConfigChanges() {
        if appliedConfigIndex < log.snapshotIndex { appliedConfigIndex = log.snapshotIndex }
        while appliedConfigIndex < log.committed {
            appliedConfigIndex += 1
            if let e = log.entry(at: appliedConfigIndex), e.kind == .configChange,
               let cc = ConfChange(decoding: e.data) {
                applyConfChange(cc, at: appliedConfigIndex)
            }
        }
    }

    mutating func applyConfChange(_ cc: ConfChange, at index: UInt64) {
        membershipHistory.append((index: index, membership: membership))
        membership.apply(cc)
        let wasLeader = role == .leader
        // Keep progress in sync with the new membership.
        for n in progress.keys where !membership.allNodes.contains(n) { progress[n] = nil }
        for n in membership.allNodes {
            if progress[n] == nil {
                var p = Progress(next: log.lastIndex + 1, isLearner: membership.learners.contains(n))
                p.recentActive = true
                if n == id { p.match = log.lastIndex }
                progress[n] = p
            } else {
                progress[n]!.isLearner = membership.learners.contains(n)
            }
        }
        guard wasLeader else { return }
        if leadTransferee != 0 && !membership.voters.contains(leadTransferee) { leadTransferee = 0 }
        if !membership.voters.contains(id) {
            // Removed (or demoted): step down; the rest of the cluster elects a new leader.
            becomeFollower(term: term, leader: 0)
            return
        }
        // The quorum changed: something may now be committed.
        if maybeCommit() { broadcastAppend() }
    }

    /// Membership in effect after applying all committed changes up to `index`.
    func membership(at index: UInt64) -> Membership {
        // membershipHistory[k] holds the membership *before* the change at its index.
        for h in membershipHistory where h.index > index { return h.membership }
        return membership
    }
}
