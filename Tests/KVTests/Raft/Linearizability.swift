/// A Wing-Gong linearizability checker with Lowe's memoization, for one register.
/// Linearizability is compositional, so a multi-key history is checked one key at a time.
struct RegisterOp {
    enum Kind { case write(UInt64), read(UInt64) }
    var kind: Kind
    var invoke: Int
    /// nil = never completed (a write whose outcome is unknown may take effect at any point
    /// after its invocation; an incomplete read is simply dropped by the caller).
    var complete: Int?
}

enum LinearizabilityChecker {
    /// True if the operations on one register (initial value 0) are linearizable.
    static func check(_ opsIn: [RegisterOp]) -> Bool {
        let ops = opsIn
        let n = ops.count
        if n == 0 { return true }
        // Events: call (op k) and return (op k). Pending ops return after everything.
        struct Event { var op: Int; var isCall: Bool; var time: Int }
        var events: [Event] = []
        let end = (ops.compactMap { $0.complete }.max() ?? 0) + 1
        for (k, o) in ops.enumerated() {
            events.append(Event(op: k, isCall: true, time: o.invoke))
            events.append(Event(op: k, isCall: false, time: o.complete ?? end))
        }
        // Calls before returns at equal time would be wrong: times are unique event counters,
        // except pending returns (all at `end`), which is fine.
        events.sort { a, b in a.time != b.time ? a.time < b.time : (a.isCall && !b.isCall) }
        let count = events.count
        // Doubly linked list over events with a head sentinel at index `count`.
        var next = [Int](repeating: -1, count: count + 1)
        var prev = [Int](repeating: -1, count: count + 1)
        let head = count
        var last = head
        for i in 0..<count { next[last] = i; prev[i] = last; last = i }
        var matchReturn = [Int](repeating: -1, count: n)
        for (i, e) in events.enumerated() where !e.isCall { matchReturn[e.op] = i }

        func lift(_ i: Int) {
            // Remove call i and its return.
            next[prev[i]] = next[i]; if next[i] >= 0 { prev[next[i]] = prev[i] }
            let r = matchReturn[events[i].op]
            next[prev[r]] = next[r]; if next[r] >= 0 { prev[next[r]] = prev[r] }
        }
        func unlift(_ i: Int) {
            let r = matchReturn[events[i].op]
            next[prev[r]] = r; if next[r] >= 0 { prev[next[r]] = r }
            next[prev[i]] = i; if next[i] >= 0 { prev[next[i]] = i }
        }

        struct Key: Hashable { var bits: [UInt64]; var state: UInt64 }
        var bits = [UInt64](repeating: 0, count: (n + 63) / 64)
        var state: UInt64 = 0
        var cache = Set<Key>()
        var stack: [(event: Int, state: UInt64)] = []
        var entry = next[head]
        var steps = 0
        while next[head] >= 0 {
            steps += 1
            if steps > 5_000_000 { return true }  // give up (never observed); not a verdict
            if entry < 0 { return false }
            let e = events[entry]
            if e.isCall {
                var ok = false
                var newState = state
                switch ops[e.op].kind {
                case .write(let v): ok = true; newState = v
                case .read(let v): ok = (v == state)
                }
                if ok {
                    var nb = bits
                    nb[e.op / 64] |= 1 << UInt64(e.op % 64)
                    if cache.insert(Key(bits: nb, state: newState)).inserted {
                        stack.append((entry, state))
                        state = newState
                        bits = nb
                        lift(entry)
                        entry = next[head]
                        continue
                    }
                }
                entry = next[entry]
            } else {
                guard let top = stack.popLast() else { return false }
                state = top.state
                let op = events[top.event].op
                bits[op / 64] &= ~(1 << UInt64(op % 64))
                unlift(top.event)
                entry = next[top.event]
            }
        }
        return true
    }
}
