/// Leader-side replication state of one follower, after etcd's progress tracker:
/// - probe: we do not know where the follower's log matches; send one append at a time.
/// - replicate: the follower is in sync; stream appends optimistically (pipelining), bounded
///   by `inflight`.
/// - snapshot: we sent InstallSnapshot and wait for it to be acknowledged.
struct Progress: Sendable {
    enum State: Sendable { case probe, replicate, snapshot }

    var match: UInt64 = 0
    var next: UInt64
    var state: State = .probe
    var isLearner: Bool
    /// In probe state: an append is outstanding; wait for a reply or heartbeat response.
    var probeSent = false
    /// Index of the snapshot in flight (snapshot state).
    var pendingSnapshot: UInt64 = 0
    /// Ticks spent in snapshot state; after an election timeout we assume the snapshot was lost.
    var snapshotTicks = 0
    /// Heard from since the last check-quorum round.
    var recentActive = false
    /// Last indexes of in-flight appends, oldest first (replicate state).
    var inflight: [UInt64] = []

    init(next: UInt64, isLearner: Bool) {
        self.next = next
        self.isLearner = isLearner
    }

    func isPaused(maxInflight: Int) -> Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflight.count >= maxInflight
        case .snapshot: return true
        }
    }

    mutating func resetState(_ s: State) {
        probeSent = false
        pendingSnapshot = 0
        snapshotTicks = 0
        inflight.removeAll()
        state = s
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            let ps = pendingSnapshot
            resetState(.probe)
            next = max(match + 1, ps + 1)
        } else {
            resetState(.probe)
            next = match + 1
        }
    }

    mutating func becomeReplicate() {
        resetState(.replicate)
        next = match + 1
    }

    mutating func becomeSnapshot(_ index: UInt64) {
        resetState(.snapshot)
        pendingSnapshot = index
    }

    /// Records an acknowledgement up to `n`. Returns false if it is stale.
    mutating func maybeUpdate(_ n: UInt64) -> Bool {
        var updated = false
        if match < n {
            match = n
            updated = true
            probeSent = false
        }
        next = max(next, n + 1)
        return updated
    }

    /// Handles a rejection of the append whose previous index was `rejected`. `hint` is the
    /// leader-side index to probe next (from the follower's conflict hint). Returns false if the
    /// rejection is stale.
    mutating func maybeDecrease(rejected: UInt64, hint: UInt64) -> Bool {
        if state == .replicate {
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        if next == 0 || next - 1 != rejected { return false }
        next = max(min(rejected, hint + 1), match + 1)
        probeSent = false
        return true
    }

    /// Frees in-flight slots acknowledged up to `index`.
    mutating func freeInflight(upTo index: UInt64) {
        var k = 0
        while k < inflight.count, inflight[k] <= index { k += 1 }
        if k > 0 { inflight.removeFirst(k) }
    }
}
