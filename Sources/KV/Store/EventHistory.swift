/// The last `capacity` (1000 in etcd) write events, for watches that start in the past.
///
/// Events enter in index order with consecutive indices (every successful write, including
/// refreshes, consumes exactly one index and records one event). A `waitIndex` older than the oldest
/// kept event is answered with error 401.
struct EventHistory {
    let capacity: Int
    private(set) var events: [StoreEvent] = []
    /// Position of the oldest event in `events` once the ring is full.
    private var head = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        events.reserveCapacity(min(capacity, 1024))
    }

    var count: Int { events.count }
    /// Index of the oldest kept event (0 when empty), etcd's `StartIndex`.
    var startIndex: UInt64 { events.isEmpty ? 0 : events[head].index }
    /// Index of the newest event (0 when empty), etcd's `LastIndex`.
    var lastIndex: UInt64 { events.isEmpty ? 0 : events[(head + events.count - 1) % events.count].index }

    mutating func add(_ e: StoreEvent) {
        if events.count < capacity {
            events.append(e)
        } else {
            events[head] = e
            head = (head + 1) % capacity
        }
    }

    /// Events oldest first.
    var ordered: [StoreEvent] {
        Array(events[head...] + events[..<head])
    }

    /// The kept event at logical position `i` (0 = oldest).
    private func event(at i: Int) -> StoreEvent { events[(head + i) % events.count] }

    /// Logical position of the first kept event with index >= `index` (`count` when none).
    /// Binary search over the ring in place: watches re-register after every event, so copying the
    /// whole history here made each registration cost O(capacity) (1,000 agents × every event).
    private func position(of index: UInt64) -> Int {
        var lo = 0, hi = events.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if event(at: mid).index < index { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// All kept events with index >= `index`, oldest first.
    func events(from index: UInt64) -> [StoreEvent] {
        guard !events.isEmpty, index <= lastIndex else { return [] }
        return (position(of: index)..<events.count).map(event(at:))
    }

    /// The first kept event with index >= `index` for which `body` holds, without copying.
    func first(from index: UInt64, where body: (StoreEvent) -> Bool) -> StoreEvent? {
        guard !events.isEmpty, index <= lastIndex else { return nil }
        for i in position(of: index)..<events.count {
            let e = event(at: i)
            if body(e) { return e }
        }
        return nil
    }

    /// The first kept event at or after `index` that a watcher on `key` would see, or `nil` if none
    /// yet (the watcher must wait). Refresh events are skipped.
    ///
    /// Like etcd's history scan this does not apply the hidden-key rule; it does report the delete
    /// or expiry of a directory that contains `key`.
    func scan(key: String, recursive: Bool, from index: UInt64, storeIndex: UInt64) throws(StoreError)
        -> StoreEvent?
    {
        try checkWindow(index, storeIndex: storeIndex)
        return first(from: index) { Self.matches($0, key: key, recursive: recursive) }
    }

    /// Error 401 when `index` is older than the oldest kept event.
    func checkWindow(_ index: UInt64, storeIndex: UInt64) throws(StoreError) {
        if index < startIndex {
            throw StoreError(.eventIndexCleared,
                             cause: "the requested history has been cleared [\(startIndex)/\(index)]",
                             index: storeIndex)
        }
    }

    /// Whether a history event concerns a watch on `key`.
    static func matches(_ e: StoreEvent, key: String, recursive: Bool) -> Bool {
        if e.isRefresh { return false }
        if e.node.key == key { return true }
        if recursive && KeyPath.isWithin(e.node.key, dir: key) { return true }
        if e.action == .delete || e.action == .expire, let prev = e.prevNode, prev.dir,
           KeyPath.isWithin(key, dir: prev.key)
        {
            return true
        }
        return false
    }

    mutating func replaceAll(_ list: [StoreEvent]) {
        events = []
        head = 0
        for e in list { add(e) }
    }
}
