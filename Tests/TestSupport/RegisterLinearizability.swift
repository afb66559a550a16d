/// A Wing-Gong linearizability checker with Lowe's memoisation, for histories of read, write and
/// compare-and-swap operations on registers (one register per key, initially absent).
///
/// Used by the Raft simulation's unit tests and by the fault suite on real machines, so it lives in
/// TestSupport. Linearizability is compositional (Herlihy & Wing), so a multi-key history is checked
/// one key at a time, which keeps each search small.
///
/// Outcomes are handled as Jepsen/Knossos do:
/// - `.ok`: took effect at one point between invocation and completion.
/// - `.failed`: took no effect; dropped (a failed CAS only says the value differed, which we do not
///   need in order to be sound).
/// - `.unknown`: its completion is +infinity and it may also never take effect. The search succeeds
///   as soon as every *completed* operation is linearised; unknown operations left over are the ones
///   that never took effect (or did so after everything that was observed).
///
/// Unknown writes (and CASes) whose value nobody ever observed are pruned before the search: if such
/// an operation took effect, the next operation in a valid order can only be an unconditional write
/// (nothing read or compared its value), so leaving it out gives an equally valid order. That keeps
/// the search small when partitions make many operations time out.
public enum RegisterLinearizability {
    public enum Verdict: Sendable, Equatable {
        case linearizable
        /// No valid order exists; `operations` is the key's pruned history, for the report.
        case violation(key: String, operations: [RegisterOperation])
        /// The search budget ran out before a verdict: neither a pass nor a failure.
        case undetermined(key: String)
    }

    /// The per-key verdicts of a whole history, and what was checked.
    public struct Report: Sendable {
        public var verdicts: [String: Verdict]
        /// Operations that went into a search (after dropping failed ones, unknown reads and unobserved unknown writes).
        public var operationsChecked: Int
        public var violations: [Verdict] { verdicts.values.filter { if case .violation = $0 { true } else { false } } }
        public var undetermined: [String] {
            verdicts.compactMap { if case .undetermined(let k) = $0.value { k } else { nil } }.sorted()
        }
        public var isLinearizable: Bool { verdicts.values.allSatisfy { $0 == .linearizable } }
    }

    /// Checks every key of `history` on its own.
    public static func check(_ history: [RegisterOperation], maxStepsPerKey: Int = 2_000_000) -> Report {
        var byKey: [String: [RegisterOperation]] = [:]
        for op in history { byKey[op.key, default: []].append(op) }
        var verdicts: [String: Verdict] = [:]
        var checked = 0
        for (key, ops) in byKey {
            let pruned = prune(ops)
            checked += pruned.count
            verdicts[key] = checkOneKey(key, pruned, maxSteps: maxStepsPerKey)
        }
        return Report(verdicts: verdicts, operationsChecked: checked)
    }

    /// Drops what cannot constrain the order: failed operations, reads without an answer, and
    /// unknown writes whose value was never observed.
    static func prune(_ ops: [RegisterOperation]) -> [RegisterOperation] {
        var observed = Set<String>()
        for op in ops where op.outcome == .ok {
            switch op.kind {
            case .read(let v?): observed.insert(v)
            case .cas(let expected, _): observed.insert(expected)
            default: break
            }
        }
        return ops.filter { op in
            switch (op.outcome, op.kind) {
            case (.failed, _): return false
            case (.unknown, .read): return false
            case (.unknown, .write(let v)), (.unknown, .cas(_, let v)): return observed.contains(v)
            case (.ok, _): return true
            }
        }
    }

    /// Wing & Gong's search over the call/return list, with Lowe's cache of (linearised set, state).
    static func checkOneKey(_ key: String, _ ops: [RegisterOperation], maxSteps: Int) -> Verdict {
        let n = ops.count
        if n == 0 { return .linearizable }
        // Values as small integers; 0 is "absent".
        var ids: [String: Int] = [:]
        func id(_ v: String?) -> Int {
            guard let v else { return 0 }
            if let i = ids[v] { return i }
            let i = ids.count + 1
            ids[v] = i
            return i
        }
        enum Step { case read(Int), write(Int), cas(Int, Int) }
        let steps: [Step] = ops.map {
            switch $0.kind {
            case .read(let v): .read(id(v))
            case .write(let v): .write(id(v))
            case .cas(let e, let v): .cas(id(e), id(v))
            }
        }
        let completedCount = ops.filter { $0.outcome == .ok }.count

        // Events sorted by time; a call sorts before a return at the same time (treated as concurrent).
        struct Event { var op: Int; var isCall: Bool; var time: UInt64 }
        var events: [Event] = []
        events.reserveCapacity(2 * n)
        for (k, o) in ops.enumerated() {
            events.append(Event(op: k, isCall: true, time: o.invoked))
            events.append(Event(op: k, isCall: false, time: o.outcome == .ok ? o.completed : .max))
        }
        events.sort { a, b in a.time != b.time ? a.time < b.time : (a.isCall && !b.isCall) }
        let count = events.count
        let head = count
        var next = [Int](repeating: -1, count: count + 1)
        var prev = [Int](repeating: -1, count: count + 1)
        var last = head
        for i in 0..<count { next[last] = i; prev[i] = last; last = i }
        var returnOf = [Int](repeating: -1, count: n)
        for (i, e) in events.enumerated() where !e.isCall { returnOf[e.op] = i }

        func unlink(_ i: Int) {
            next[prev[i]] = next[i]
            if next[i] >= 0 { prev[next[i]] = prev[i] }
        }
        func relink(_ i: Int) {
            next[prev[i]] = i
            if next[i] >= 0 { prev[next[i]] = i }
        }

        struct CacheKey: Hashable { var bits: [UInt64]; var state: Int }
        var bits = [UInt64](repeating: 0, count: (n + 63) / 64)
        var state = 0
        var cache = Set<CacheKey>()
        var stack: [(call: Int, state: Int)] = []
        var linearisedCompleted = 0
        var entry = next[head]
        var budget = maxSteps
        while linearisedCompleted < completedCount {
            budget -= 1
            if budget < 0 { return .undetermined(key: key) }
            if entry >= 0 && events[entry].isCall {
                let op = events[entry].op
                var newState = state
                var legal = true
                switch steps[op] {
                case .read(let v): legal = v == state
                case .write(let v): newState = v
                case .cas(let e, let v): legal = e == state; newState = v
                }
                if legal {
                    var nb = bits
                    nb[op / 64] |= 1 << UInt64(op % 64)
                    if cache.insert(CacheKey(bits: nb, state: newState)).inserted {
                        stack.append((entry, state))
                        state = newState
                        bits = nb
                        unlink(entry)
                        unlink(returnOf[op])
                        if ops[op].outcome == .ok { linearisedCompleted += 1 }
                        entry = next[head]
                        continue
                    }
                }
                entry = next[entry]
            } else {
                // A return whose call is not linearised yet (or the end): undo the last choice.
                guard let top = stack.popLast() else { return .violation(key: key, operations: ops) }
                let op = events[top.call].op
                state = top.state
                bits[op / 64] &= ~(1 << UInt64(op % 64))
                relink(returnOf[op])
                relink(top.call)
                if ops[op].outcome == .ok { linearisedCompleted -= 1 }
                entry = next[top.call]
            }
        }
        return .linearizable
    }
}
