/// Min-heap of pending expiries ordered by (time, path), so finding due keys is O(log n) instead of a
/// scan of every TTL key.
///
/// Entries are never removed eagerly: `StoreCore.ttlNodes` is the truth, and an entry whose path no
/// longer has that exact expiry is stale and skipped when it surfaces. The heap is rebuilt when stale
/// entries dominate. The (time, path) order is total, so every member expires keys in the same order.
struct ExpiryQueue {
    struct Entry: Comparable {
        var time: Int64
        var path: String
        static func < (a: Entry, b: Entry) -> Bool { (a.time, a.path) < (b.time, b.path) }
    }

    private(set) var heap: [Entry] = []

    var count: Int { heap.count }

    mutating func push(_ time: Int64, _ path: String) {
        heap.append(Entry(time: time, path: path))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i] < heap[parent] else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    var top: Entry? { heap.first }

    @discardableResult
    mutating func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let e = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && heap[l] < heap[m] { m = l }
            if r < heap.count && heap[r] < heap[m] { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return e
    }

    /// Drops stale entries from the top and returns the earliest live expiry.
    mutating func peekLive(_ live: [String: Int64]) -> Entry? {
        while let t = top {
            if live[t.path] == t.time { return t }
            pop()
        }
        return nil
    }

    /// Rebuilds from the live set when stale entries outnumber live ones (bounded memory).
    mutating func compactIfNeeded(_ live: [String: Int64]) {
        if heap.count > 2 * live.count + 64 { rebuild(live) }
    }

    mutating func rebuild(_ live: [String: Int64]) {
        heap = []
        for (p, t) in live { push(t, p) }
    }
}
