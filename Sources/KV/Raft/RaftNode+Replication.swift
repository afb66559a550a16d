/// Leader-side log replication: appending, batching, pipelining, fast back-off, snapshots
/// for lagging followers and commitment by counting.
extension RaftNode {
    /// Appends entries at the end of the leader's log (assigning term and index).
    mutating func appendEntries(_ new: [Entry]) {
        var li = log.lastIndex
        var stamped: [Entry] = []
        stamped.reserveCapacity(new.count)
        for var e in new {
            li += 1
            e.term = term
            e.index = li
            stamped.append(e)
        }
        log.append(stamped)
        _ = progress[id]?.maybeUpdate(log.lastIndex)
        maybeCommit()
    }

    /// Leader: appends proposed entries (config changes that are not allowed are turned into
    /// no-ops so followers' forwarded proposals cannot bypass the one-at-a-time rule) and
    /// replicates them.
    mutating func appendProposals(_ proposed: [Entry]) {
        guard !proposed.isEmpty else { return }
        var ents = proposed
        for k in ents.indices where ents[k].kind == .configChange {
            if pendingConfIndex > log.committed || ConfChange(decoding: ents[k].data) == nil {
                ents[k] = Entry(term: 0, index: 0, kind: .normal, data: [])
            } else {
                pendingConfIndex = log.lastIndex + UInt64(k) + 1
            }
        }
        appendEntries(ents)
        broadcastAppend()
    }

    /// Sends the next batch to `to` if its progress allows. Returns true if a message was sent.
    @discardableResult
    mutating func sendAppend(to: UInt64, sendIfEmpty: Bool = true) -> Bool {
        guard var pr = progress[to], to != id else { return false }
        if pr.isPaused(maxInflight: config.maxInflightMessages) { return false }
        let prevIndex = pr.next - 1
        guard let prevTerm = log.term(at: prevIndex),
              let ents = log.slice(from: pr.next, through: log.lastIndex, maxCount: config.maxEntriesPerMessage)
        else {
            // The entries the follower needs are compacted: send the snapshot.
            guard pr.recentActive, !latestSnapshot.isEmpty else { return false }
            send(Message(kind: .installSnapshot, to: to, snapshot: latestSnapshot))
            pr.becomeSnapshot(latestSnapshot.metadata.index)
            progress[to] = pr
            return true
        }
        if ents.isEmpty && !sendIfEmpty { return false }
        send(Message(kind: .append, to: to, logTerm: prevTerm, index: prevIndex, entries: ents,
                     commit: log.committed))
        switch pr.state {
        case .replicate:
            if let last = ents.last {
                pr.next = last.index + 1
                pr.inflight.append(last.index)
            }
        case .probe:
            pr.probeSent = true
        case .snapshot:
            break
        }
        progress[to] = pr
        return true
    }

    mutating func broadcastAppend() {
        for peer in progress.keys.sorted() where peer != id { sendAppend(to: peer) }
    }

    mutating func broadcastHeartbeat(context: [UInt8]) {
        for peer in progress.keys.sorted() where peer != id {
            let pr = progress[peer]!
            // Never tell a follower to commit beyond what it is known to match.
            send(Message(kind: .heartbeat, to: peer, commit: min(pr.match, log.committed), context: context))
        }
    }

    mutating func handleAppendResponse(_ m: Message) {
        guard var pr = progress[m.from] else { return }
        pr.recentActive = true
        if m.reject {
            // Map the follower's hint onto our log: the last index whose term is <= the
            // follower's term at the hint. Both logs agree up to there or diverge earlier.
            var next = m.rejectHint
            if m.logTerm > 0 { next = log.findConflictByTerm(index: m.rejectHint, term: m.logTerm) }
            if pr.maybeDecrease(rejected: m.index, hint: next) {
                if pr.state == .replicate { pr.becomeProbe() }
                progress[m.from] = pr
                sendAppend(to: m.from)
            } else {
                progress[m.from] = pr
            }
            return
        }
        let wasPaused = pr.isPaused(maxInflight: config.maxInflightMessages)
        guard pr.maybeUpdate(m.index) else {
            progress[m.from] = pr
            return
        }
        switch pr.state {
        case .probe:
            pr.becomeReplicate()
        case .snapshot:
            if pr.match >= pr.pendingSnapshot {
                pr.becomeProbe()
                pr.becomeReplicate()
            }
        case .replicate:
            pr.freeInflight(upTo: m.index)
        }
        progress[m.from] = pr
        if maybeCommit() {
            broadcastAppend()
        } else if wasPaused {
            sendAppend(to: m.from)
        }
        // Pipelining: keep streaming while the window allows.
        while sendAppend(to: m.from, sendIfEmpty: false) {}
        if m.from == leadTransferee && progress[m.from]?.match == log.lastIndex {
            send(Message(kind: .timeoutNow, to: m.from))
        }
    }

    mutating func handleHeartbeatResponse(_ m: Message) {
        guard var pr = progress[m.from] else { return }
        pr.recentActive = true
        pr.probeSent = false
        if pr.state == .replicate && pr.inflight.count >= config.maxInflightMessages {
            pr.inflight.removeFirst()  // let a stalled pipeline make progress
        }
        progress[m.from] = pr
        if pr.match < log.lastIndex { sendAppend(to: m.from) }
        if config.readOnlyOption == .safe && !m.context.isEmpty {
            releaseReads(ackedBy: m.from, context: m.context)
        }
    }

    /// Commits the highest index replicated on a quorum of voters, but only if that entry is
    /// from the current term (Raft §5.4.2: older entries are committed indirectly).
    @discardableResult
    mutating func maybeCommit() -> Bool {
        guard role == .leader, !membership.voters.isEmpty else { return false }
        var matches: [UInt64] = []
        for v in membership.voters { matches.append(progress[v]?.match ?? 0) }
        matches.sort(by: >)
        let candidate = matches[quorumSize - 1]
        guard candidate > log.committed, log.term(at: candidate) == term else { return false }
        log.commit(to: candidate)
        onCommitAdvanced()
        return true
    }

    /// Called whenever the commit index moves: config changes take effect, and a new leader
    /// can now serve reads queued before its first commit.
    mutating func onCommitAdvanced() {
        applyCommittedConfigChanges()
        if role == .leader && !pendingReadIndexMessages.isEmpty && committedEntryInCurrentTerm {
            let queued = pendingReadIndexMessages
            pendingReadIndexMessages = []
            for m in queued { handleReadIndex(m) }
        }
    }

    var committedEntryInCurrentTerm: Bool { log.term(at: log.committed) == term }

    mutating func handleTransferLeader(target: UInt64) {
        guard target != id, let pr = progress[target], !pr.isLearner else { return }
        if leadTransferee == target { return }
        leadTransferee = target
        electionElapsed = 0  // the transfer must finish within one election timeout
        if pr.match == log.lastIndex {
            send(Message(kind: .timeoutNow, to: target))
        } else {
            sendAppend(to: target)
        }
    }
}
