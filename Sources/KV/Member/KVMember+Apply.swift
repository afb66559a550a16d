/// Applying committed entries: store commands, membership records, configuration changes.
/// Runs on `loop`, in log order, identically on every member.
extension KVMember {
    func apply(_ entry: Entry) {
        switch entry.kind {
        case .configChange:
            if let change = ConfChange(decoding: entry.data), change.kind == .remove, change.nodeID == memberID {
                logger.notice("this member was removed from the cluster; stopping")
                fail("removed from the cluster")
                return
            }
            refreshPeers()
        case .normal:
            guard !entry.data.isEmpty else { return }  // a new leader's empty entry
            let proposal: MemberProposal
            do { proposal = try MemberProposal(decoding: entry.data) } catch {
                logger.error("skipping undecodable entry", metadata: ["index": "\(entry.index)", "error": "\(error)"])
                return
            }
            let result = apply(proposal)
            if let origin = proposal.origin, origin.member == memberID, origin.request != 0, let result {
                let waiter = shared.withLock { $0.waiters.removeValue(forKey: origin.request) }
                waiter?.resume(returning: result)
            }
        }
    }

    private func apply(_ proposal: MemberProposal) -> ApplyResult? {
        switch proposal {
        case .store(_, _, let command):
            return .store(store.apply(command))
        case .bootstrap(let members, let version):
            for m in members.sorted(by: { $0.id < $1.id }) {
                store.apply(StoreCommand(now: 0, MembershipRecords.addOperation(id: m.id, peerURLs: m.peerURLs)))
            }
            store.apply(StoreCommand(now: 0, MembershipRecords.versionOperation(version)))
            refreshPeers()
            return nil
        case .addMember(_, _, let info):
            let current = MembershipRecords.members(in: store)
            if current.contains(where: { !Set($0.peerURLs).isDisjoint(with: info.peerURLs) }) {
                return .member(.failure(.peerURLExists))
            }
            store.apply(StoreCommand(now: 0, MembershipRecords.addOperation(id: info.id, peerURLs: info.peerURLs)))
            refreshPeers()
            return .member(.success(info))
        case .updateMember(_, _, let id, let urls):
            let current = MembershipRecords.members(in: store)
            guard var m = current.first(where: { $0.id == id }) else { return .member(.failure(.memberNotFound(id))) }
            if current.contains(where: { $0.id != id && !Set($0.peerURLs).isDisjoint(with: urls) }) {
                return .member(.failure(.peerURLExists))
            }
            store.apply(StoreCommand(now: 0, MembershipRecords.updateOperation(id: id, peerURLs: urls)))
            m.peerURLs = urls
            refreshPeers()
            return .member(.success(m))
        case .removeMember(_, _, let id):
            if MembershipRecords.isRemoved(id, in: store) { return .member(.failure(.memberRemoved(id))) }
            guard let m = MembershipRecords.members(in: store).first(where: { $0.id == id }) else {
                return .member(.failure(.memberNotFound(id)))
            }
            for op in MembershipRecords.removeOperations(id: id) { store.apply(StoreCommand(now: 0, op)) }
            refreshPeers()
            return .member(.success(m))
        }
    }
}
