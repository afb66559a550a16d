/// Pending ReadIndex requests on the leader, confirmed in FIFO order: an acknowledgement of
/// a heartbeat carrying request k proves leadership at a time after requests 1...k arrived.
struct ReadOnlyQueue: Sendable {
    struct Request: Sendable {
        var context: [UInt8]
        var index: UInt64
        var from: UInt64
        var acks: Set<UInt64>
    }
    var queue: [Request] = []

    var lastContext: [UInt8] { queue.last?.context ?? [] }
}

extension RaftNode {
    /// Leader side of ReadIndex. `m.from` is the requesting node (ourselves for local reads).
    mutating func handleReadIndex(_ m: Message) {
        if membership.voters == [id] {
            answerRead(from: m.from, index: log.committed, context: m.context)
            return
        }
        // Until the leader commits an entry of its term, its commit index may be behind the
        // true one; queue the request until then.
        if !committedEntryInCurrentTerm {
            pendingReadIndexMessages.append(m)
            return
        }
        switch config.readOnlyOption {
        case .safe:
            readOnly.queue.append(.init(context: m.context, index: log.committed, from: m.from, acks: [id]))
            broadcastHeartbeat(context: m.context)
        case .leaseBased:
            answerRead(from: m.from, index: log.committed, context: m.context)
        }
    }

    mutating func answerRead(from: UInt64, index: UInt64, context: [UInt8]) {
        if from == id || from == 0 {
            readStates.append(ReadState(index: index, context: context))
        } else {
            send(Message(kind: .readIndexResponse, to: from, index: index, context: context))
        }
    }

    mutating func releaseReads(ackedBy peer: UInt64, context: [UInt8]) {
        guard let k = readOnly.queue.firstIndex(where: { $0.context == context }) else { return }
        readOnly.queue[k].acks.insert(peer)
        let acks = readOnly.queue[k].acks
        var votersAcked = 0
        for v in membership.voters where acks.contains(v) { votersAcked += 1 }
        guard votersAcked >= quorumSize else { return }
        let released = readOnly.queue[0...k]
        readOnly.queue.removeFirst(k + 1)
        for r in released { answerRead(from: r.from, index: r.index, context: r.context) }
    }
}
