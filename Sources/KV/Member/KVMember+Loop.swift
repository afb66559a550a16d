import Logging
import NIOCore

/// The Raft loop: everything here runs on `loop`.
extension KVMember {
    /// Starts ticking every heartbeat interval.
    func startTicking() {
        let interval = TimeAmount.milliseconds(Int64(max(1, config.heartbeatInterval)))
        timer = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.process(tick: true)
        }
    }

    /// Drains the inbox into the node, ticks if asked, then does every Ready.
    func process(tick: Bool) {
        let (messages, proposals, reads, stopped) = shared.withLock { s in
            s.scheduled = false
            defer {
                s.inbox.removeAll(keepingCapacity: true)
                s.newProposals.removeAll(keepingCapacity: true)
                s.newReads.removeAll(keepingCapacity: true)
            }
            return (s.inbox, s.newProposals, s.newReads, s.stopped)
        }
        guard !stopped, fatal == nil else { return }
        var received: UInt64 = 0
        for m in messages {
            if m.kind == .append { received += 1 }
            node.step(m)
        }
        pendingProposals.append(contentsOf: proposals)
        pendingReads.append(contentsOf: reads)
        if tick {
            node.tick()
            housekeeping()
            expireWaiters()
            readBatches.dropStale(olderThan: requestTimeout, now: ContinuousClock.now)
        }
        if !pendingProposals.isEmpty {
            do {
                try node.propose(batch: pendingProposals.map(\.data))
                let leader = node.leaderID
                shared.withLock { s in
                    for p in pendingProposals where p.request != 0 { s.waiters[p.request]?.leader = leader }
                }
                pendingProposals.removeAll(keepingCapacity: true)
            } catch {
                // No leader yet, or a leadership transfer: keep them for the next tick; their
                // waiters time out if no leader appears in time.
            }
        }
        if !pendingReads.isEmpty {
            // One ReadIndex round for every read that has arrived (see `ReadBatches`).
            let (round, context) = readBatches.start(pendingReads, member: memberID, now: ContinuousClock.now)
            do {
                try node.readIndex(context: context)
                pendingReads.removeAll(keepingCapacity: true)
            } catch {
                // No leader yet: keep them for the next tick; their waiters time out if none appears.
                readBatches.cancel(round)
            }
        }
        handleReady()
        let (commit, term, leader, role) = (node.commitIndex, node.term, node.leaderID, node.role)
        if leader != lastLeader {
            abandonProposals(handedTo: lastLeader)
            lastLeader = leader
        }
        if role != .leader {
            leadingSince = nil
        } else if leadingSince == nil {
            leadingSince = ContinuousClock.now
        }
        shared.withLock { s in
            s.commitIndex = commit
            s.term = term
            if s.leader != leader { s.leaderSince = WallClock.nanoseconds() }
            s.leader = leader
            s.role = role
            s.receivedAppends += received
            if tick { s.lastTick = ContinuousClock.now }
        }
    }

    /// Does every Ready: persist, send, apply, advance.
    ///
    /// A leader sends before it persists, so its followers write the new entries while it does
    /// (Raft thesis §10.2.1) instead of after. That stays safe because nothing here can commit an
    /// entry on the strength of the leader's unsynced copy in a cluster of more than one voter:
    /// acknowledgements are only stepped in a later `process(tick:)`, after this Ready's sync, and
    /// a quorum of two or more needs a follower's acknowledgement. With a single voter, the entries
    /// and their commit arrive in the same Ready, and committed entries are applied (acknowledged)
    /// only after the sync below. Every other role sends after persisting, since its messages
    /// (votes, append acknowledgements) promise durable state.
    func handleReady() {
        while node.hasReady, fatal == nil {
            let rd = node.ready()
            let sendFirst = rd.role == .leader
            if sendFirst { send(rd.messages) }
            do {
                try storage.persist(snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState)
            } catch {
                // Nothing unpersisted may be acknowledged or sent: stop the member.
                fail("cannot persist Raft state: \(error)")
                return
            }
            if !sendFirst { send(rd.messages) }
            if let snap = rd.snapshot {
                do { try store.restore(snap.data) } catch {
                    fail("snapshot at index \(snap.metadata.index) from the leader does not restore: \(error)")
                    return
                }
                lastSnapshotIndex = snap.metadata.index
                refreshPeers()
            }
            for entry in rd.committedEntries { apply(entry) }
            readsAwaitingApply.append(contentsOf: rd.readStates)
            node.advance(rd)
            resolveReads()
            maybeSnapshot()
        }
    }

    /// Answers "request timed out" at once to the waiters whose proposals went to `leader`, which
    /// this member no longer follows (it died, lost an election, or this member stepped down).
    ///
    /// Why not wait for their deadlines: a follower forwards a proposal to the leader it knows and
    /// the proposal is lost if that leader is dead, so its waiter used to sit out the whole request
    /// timeout (5 s + two election timeouts). The answer is the same as at the deadline — the
    /// outcome is unknown, the proposal may still commit if the old leader had replicated it — but
    /// given as soon as it is known that nobody will answer, so a caller that retries (presence
    /// refreshes, lease renewals) reaches the new leader about as soon as there is one, instead of
    /// letting a TTL run out. Proposals not yet handed to Raft (no leader known) are kept for the
    /// next leader, as before.
    func abandonProposals(handedTo leader: UInt64) {
        guard leader != 0 else { return }
        let abandoned = shared.withLock { s -> [ProposalWaiter] in
            let requests = s.waiters.compactMap { $0.value.leader == leader ? $0.key : nil }
            return requests.compactMap { s.waiters.removeValue(forKey: $0) }
        }
        guard !abandoned.isEmpty else { return }
        logger.info("leader changed: \(abandoned.count) proposal(s) sent to the old leader answered as timed out",
                    metadata: ["old-leader": "\(MemberInfo.hex(leader))"])
        for w in abandoned { w.resume(returning: nil) }
    }

    func send(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        var byPeer: [UInt64: [[UInt8]]] = [:]
        var appends: UInt64 = 0
        for m in messages {
            if m.kind == .append { appends += 1 }
            byPeer[m.to, default: []].append(RaftWireCodec.encode(m))
        }
        for (peer, frames) in byPeer { transport.send(frames, to: peer) }
        if appends > 0 { shared.withLock { $0.sentAppends += appends } }
    }

    func resolveReads() {
        guard !readsAwaitingApply.isEmpty else { return }
        let applied = node.appliedIndex
        var ready: [UInt64] = []
        readsAwaitingApply.removeAll { rs in
            guard rs.index <= applied else { return false }
            ready += readBatches.finish(context: rs.context, member: memberID)
            return true
        }
        guard !ready.isEmpty else { return }
        let waiters = shared.withLock { s in ready.compactMap { s.readWaiters.removeValue(forKey: $0) } }
        for w in waiters { w.resume(returning: true) }
    }

    func maybeSnapshot() {
        let applied = node.appliedIndex
        guard applied > lastSnapshotIndex, applied - lastSnapshotIndex >= config.snapshotCount else { return }
        do {
            let snap = try node.compact(upTo: applied, data: store.snapshot())
            try storage.compacted(snap)
            lastSnapshotIndex = applied
            logger.info("snapshot taken", metadata: ["index": "\(applied)"])
        } catch {
            logger.warning("snapshot failed", metadata: ["index": "\(applied)", "error": "\(error)"])
        }
    }

    /// Answers "request timed out" to every waiter whose deadline has passed.
    func expireWaiters() {
        let (proposals, reads) = shared.withLock { s in
            var proposals: [ProposalWaiter] = []
            var reads: [CheckedContinuation<Bool, Never>] = []
            for (request, kind) in s.deadlines.popExpired(now: ContinuousClock.now) {
                switch kind {
                case .proposal: if let w = s.waiters.removeValue(forKey: request) { proposals.append(w) }
                case .read: if let w = s.readWaiters.removeValue(forKey: request) { reads.append(w) }
                }
            }
            return (proposals, reads)
        }
        for w in proposals { w.resume(returning: nil) }
        for r in reads { r.resume(returning: false) }
    }

    func fail(_ reason: String) {
        fatal = reason
        logger.critical("member stopping", metadata: ["reason": "\(reason)"])
        timer?.cancel()
        let (waiters, reads) = shared.withLock { s in
            s.stopped = true
            defer { s.waiters.removeAll(); s.readWaiters.removeAll(); s.deadlines.removeAll() }
            return (Array(s.waiters.values), Array(s.readWaiters.values))
        }
        for w in waiters { w.resume(returning: nil) }
        for r in reads { r.resume(returning: false) }
    }

    /// Periodic duties: TTL expiry (leader, once it has led for `ttlGrace`), publishing this member's attributes, and keeping
    /// Raft's configuration in line with the membership records (leader).
    func housekeeping() {
        let now = ContinuousClock.now
        let leader = node.leaderID
        guard leader != 0 else { return }
        // A new leader first lets owners refresh what nobody could refresh without a leader.
        if node.role == .leader, let since = leadingSince, now - since >= ttlGrace,
           let next = store.nextExpiration, next <= WallClock.nanoseconds(),
           expireProposedAt.map({ now - $0 > .milliseconds(500) }) ?? true {
            expireProposedAt = now
            let p = MemberProposal.store(member: memberID, request: 0, command: StoreCommand(now: WallClock.nanoseconds(), .expire))
            pendingProposals.append(QueuedProposal(request: 0, data: p.encoded()))
        }
        guard now - lastHousekeeping > .milliseconds(500) else { return }
        lastHousekeeping = now
        let records = MembershipRecords.members(in: store)
        if let me = records.first(where: { $0.id == memberID }),
           me.name != memberName || me.clientURLs != config.advertiseClientURLs.map(\.description),
           publishProposedAt.map({ now - $0 > .seconds(2) }) ?? true {
            publishProposedAt = now
            let op = MembershipRecords.publishOperation(id: memberID, name: memberName,
                                                        clientURLs: config.advertiseClientURLs.map(\.description))
            pendingProposals.append(QueuedProposal(request: 0, data: MemberProposal.store(
                member: memberID, request: 0, command: StoreCommand(now: WallClock.nanoseconds(), op)).encoded()))
        }
        guard node.role == .leader else { return }
        let recorded = Set(records.map(\.id))
        let configured = node.membership.allNodes
        if let add = recorded.subtracting(configured).sorted().first {
            try? node.proposeMembershipChange(ConfChange(.addVoter, nodeID: add))
        } else if let remove = configured.subtracting(recorded).sorted().first(where: { MembershipRecords.isRemoved($0, in: store) }) {
            try? node.proposeMembershipChange(ConfChange(.remove, nodeID: remove))
        }
    }

    /// Points the transport at every recorded member but this one.
    func refreshPeers() {
        let members = MembershipRecords.members(in: store)
        var peers: [UInt64: [String]] = [:]
        for m in members where m.id != memberID { peers[m.id] = m.peerURLs }
        // The store's records lag behind the cluster while this member is behind the log (a
        // restart from an old commit, or a join): members added later, maybe the leader, are
        // known only as remotes (seeded when joining, or learnt from their requests). Without
        // them this member could never answer the leader, and so never catch up.
        for id in remotes.keys where peers[id] != nil || MembershipRecords.isRemoved(id, in: store) || id == memberID {
            remotes[id] = nil
        }
        for (id, urls) in remotes { peers[id] = urls }
        guard peers != knownPeers else { return }
        knownPeers = peers
        shared.withLock { $0.peerIDs = Set(peers.keys) }
        transport.setPeers(peers.mapValues { $0.compactMap(HTTPEndpoint.init(url:)) })
    }

    /// Peers known before the store holds their membership records: the cluster a joining member
    /// asked for its members (etcd seeds its transport the same way).
    func seedPeers(_ peers: [UInt64: [String]]) {
        for (id, urls) in peers { remotes[id] = urls }
        refreshPeers()
    }

    /// Called (any thread) for every peer request: a sender this member has no URLs for becomes a
    /// remote (etcd's `X-PeerURLs`), so the answers reach it.
    func noteSender(_ id: UInt64, peerURLs header: String?) {
        guard id != 0, id != memberID, let header, !shared.withLock({ $0.peerIDs.contains(id) }) else { return }
        let urls = header.split(separator: ",").map { String($0) }.filter { HTTPEndpoint(url: $0) != nil }
        guard !urls.isEmpty else { return }
        loop.execute {
            guard self.knownPeers[id] == nil, !MembershipRecords.isRemoved(id, in: self.store) else { return }
            self.logger.info("learnt a peer from its requests", metadata: ["peer": "\(MemberInfo.hex(id))",
                                                                           "urls": "\(urls.joined(separator: ","))"])
            self.remotes[id] = urls
            self.refreshPeers()
        }
    }
}
