/// When each waiting client request (a proposal or a quorum read) gives up, in the order the
/// requests were made.
///
/// Every request waits the same time, so deadlines arrive in request order and a FIFO is enough:
/// the Raft loop pops the expired ones on each tick. This replaces one Dispatch timer per request,
/// which at thousands of writes per second put thousands of timer callbacks per second onto the
/// Raft loop (each 5 s after its request, long after most were answered).
struct RequestDeadlines {
    /// Which waiter table a request is in.
    enum Kind { case proposal, read }

    private var items: [(request: UInt64, kind: Kind, deadline: ContinuousClock.Instant)] = []
    private var head = 0

    /// Records that `request` gives up at `deadline` (not earlier than any recorded before).
    mutating func add(_ request: UInt64, _ kind: Kind, deadline: ContinuousClock.Instant) {
        items.append((request, kind, deadline))
    }

    /// Removes and returns the requests whose deadline is at or before `now`.
    mutating func popExpired(now: ContinuousClock.Instant) -> [(request: UInt64, kind: Kind)] {
        var expired: [(request: UInt64, kind: Kind)] = []
        while head < items.count, items[head].deadline <= now {
            expired.append((items[head].request, items[head].kind))
            head += 1
        }
        // Drop the consumed prefix once it dominates, so the array does not grow without bound.
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return expired
    }

    mutating func removeAll() {
        items.removeAll()
        head = 0
    }
}
