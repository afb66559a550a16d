/// Message handling: term checks common to every role, then role-specific handling.
extension RaftNode {
    /// Feeds a message from a peer. Messages for other nodes, from stale terms or that make no
    /// sense in the current role are ignored (the network may duplicate and reorder).
    public mutating func step(_ m: Message) {
        guard m.to == id || m.to == 0 else { return }
        if m.term == 0 {
            // Not bound to a term (a forwarded proposal).
        } else if m.term > term {
            if m.kind == .requestVote || m.kind == .requestPreVote {
                // Leader lease: a node that heard from a leader within the election timeout does
                // not help depose it (unless this is a leadership transfer).
                let inLease = config.checkQuorum && leaderID != 0 && electionElapsed < config.electionTick
                if inLease && !m.isTransfer { return }
            }
            switch m.kind {
            case .requestPreVote:
                break  // never changes our term
            case .requestPreVoteResponse where !m.reject:
                break  // granted for a future term; counted below
            case .append, .heartbeat, .installSnapshot:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: 0)
            }
        } else if m.term < term {
            if (config.checkQuorum || config.preVote) && (m.kind == .heartbeat || m.kind == .append) {
                // Tell a stale leader about the newer term so it steps down. Without this a
                // partitioned leader that rejoins could stay stuck (pre-vote stops others from
                // bumping its term).
                send(Message(kind: .appendResponse, to: m.from))
            } else if m.kind == .requestPreVote {
                send(Message(kind: .requestPreVoteResponse, to: m.from, reject: true))
            }
            return
        }

        switch m.kind {
        case .requestVote, .requestPreVote:
            handleVoteRequest(m)
            return
        default:
            break
        }
        switch role {
        case .leader: stepLeader(m)
        case .candidate, .preCandidate: stepCandidate(m)
        case .follower: stepFollower(m)
        }
    }

    mutating func handleVoteRequest(_ m: Message) {
        let isPre = m.kind == .requestPreVote
        let canVote = vote == m.from
            || (vote == 0 && leaderID == 0)
            || (isPre && m.term > term)
        let respKind: MessageKind = isPre ? .requestPreVoteResponse : .requestVoteResponse
        if canVote && log.isUpToDate(lastIndex: m.index, lastTerm: m.logTerm) {
            // A pre-vote grant answers in the probed term so the candidate counts it.
            send(Message(kind: respKind, to: m.from, term: m.term))
            if !isPre {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            send(Message(kind: respKind, to: m.from, term: term, reject: true))
        }
    }

    mutating func stepFollower(_ m: Message) {
        switch m.kind {
        case .propose:
            if leaderID != 0 && !config.disableProposalForwarding {
                var f = m
                f.to = leaderID
                send(f)
            }
        case .append:
            electionElapsed = 0
            leaderID = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            leaderID = m.from
            handleHeartbeat(m)
        case .installSnapshot:
            electionElapsed = 0
            leaderID = m.from
            handleSnapshot(m)
        case .transferLeader, .readIndex:
            if leaderID != 0 {
                var f = m
                f.to = leaderID
                f.term = 0
                send(f)
            }
        case .timeoutNow:
            campaign(.transfer)
        case .readIndexResponse:
            readStates.append(ReadState(index: m.index, context: m.context))
        default:
            break
        }
    }

    mutating func stepCandidate(_ m: Message) {
        switch m.kind {
        case .append:
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .installSnapshot:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case .requestPreVoteResponse where role == .preCandidate:
            _ = recordVote(from: m.from, granted: !m.reject)
        case .requestVoteResponse where role == .candidate:
            _ = recordVote(from: m.from, granted: !m.reject)
        default:
            break  // proposals are dropped: there is no leader to forward to
        }
    }

    mutating func stepLeader(_ m: Message) {
        switch m.kind {
        case .propose:
            guard leadTransferee == 0 else { return }
            appendProposals(m.entries)
        case .readIndex:
            handleReadIndex(m)
        case .transferLeader:
            handleTransferLeader(target: m.index)
        default:
            break
        }
        guard progress[m.from] != nil else { return }
        switch m.kind {
        case .appendResponse: handleAppendResponse(m)
        case .heartbeatResponse: handleHeartbeatResponse(m)
        default: break
        }
    }

    // MARK: - Follower handlers

    mutating func handleAppend(_ m: Message) {
        if m.index < log.committed {
            send(Message(kind: .appendResponse, to: m.from, index: log.committed))
            return
        }
        if let last = log.maybeAppend(prevIndex: m.index, prevTerm: m.logTerm, commit: m.commit, entries: m.entries) {
            send(Message(kind: .appendResponse, to: m.from, index: last))
            onCommitAdvanced()
        } else {
            // Fast back-off: point the leader at the last index whose term is <= the term it
            // probed, so it skips a whole conflicting term per round trip.
            let hint = log.findConflictByTerm(index: min(m.index, log.lastIndex), term: m.logTerm)
            send(Message(kind: .appendResponse, to: m.from, logTerm: log.term(at: hint) ?? 0,
                         index: m.index, reject: true, rejectHint: hint))
        }
    }

    mutating func handleHeartbeat(_ m: Message) {
        if log.commit(to: m.commit) { onCommitAdvanced() }
        send(Message(kind: .heartbeatResponse, to: m.from, context: m.context))
    }

    mutating func handleSnapshot(_ m: Message) {
        guard let snap = m.snapshot else { return }
        let meta = snap.metadata
        if meta.index <= log.committed {
            send(Message(kind: .appendResponse, to: m.from, index: log.committed))
            return
        }
        if log.matchTerm(meta.index, meta.term) {
            // We already have the covered entries: just fast-forward the commit index.
            log.commit(to: meta.index)
            onCommitAdvanced()
            send(Message(kind: .appendResponse, to: m.from, index: log.lastIndex))
            return
        }
        log.restore(snap)
        latestSnapshot = snap
        snapshotMembership = meta.membership
        membership = meta.membership
        membershipHistory = []
        appliedConfigIndex = meta.index
        resetProgress()
        send(Message(kind: .appendResponse, to: m.from, index: log.lastIndex))
    }
}
