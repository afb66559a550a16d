/// Quorum reads waiting for one ReadIndex round, grouped by the round they share.
///
/// Every quorum read that reaches the Raft loop in one pass joins a single ReadIndex request
/// (one heartbeat round with a quorum, on the leader) instead of one round each: with 64 clients
/// that is one round instead of 64. It stays linearizable because each read arrived before its
/// round was requested, so the read index covers every write acknowledged before it. The context
/// sent with a round is this member's ID and the round's number.
struct ReadBatches {
    private var waiting: [UInt64: (requests: [UInt64], started: ContinuousClock.Instant)] = [:]
    private var lastRound: UInt64 = 0

    /// Starts a round for `requests`; returns the ReadIndex context to request it with.
    mutating func start(_ requests: [UInt64], member: UInt64, now: ContinuousClock.Instant) -> (round: UInt64, context: [UInt8]) {
        lastRound += 1
        waiting[lastRound] = (requests, now)
        var w = ByteWriter()
        w.u64(member)
        w.u64(lastRound)
        return (lastRound, w.bytes)
    }

    /// Forgets a round that could not be requested (its reads are retried in a later round).
    mutating func cancel(_ round: UInt64) {
        waiting[round] = nil
    }

    /// The requests of the round that `context` names, if it is one of this member's.
    mutating func finish(context: [UInt8], member: UInt64) -> [UInt64] {
        var r = ByteReader(context)
        guard let m = try? r.u64(), m == member, let round = try? r.u64() else { return [] }
        return waiting.removeValue(forKey: round)?.requests ?? []
    }

    /// Drops rounds older than `age` whose answer was lost (leader change, dropped message); their
    /// clients have been answered "timed out" by then.
    mutating func dropStale(olderThan age: Duration, now: ContinuousClock.Instant) {
        guard !waiting.isEmpty else { return }
        waiting = waiting.filter { now - $0.value.started < age }
    }
}
