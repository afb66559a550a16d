extension Scheduler {
    /// A fixed-size set of machine indices.
    struct MachineBitset: Hashable {
        var words: [UInt64]
        init(count: Int, full: Bool = false) {
            words = [UInt64](repeating: full ? ~0 : 0, count: (count + 63) / 64)
        }
        @inline(__always) func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
        @inline(__always) mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
        mutating func formUnion(_ o: MachineBitset) { for k in words.indices { words[k] |= o.words[k] } }
        mutating func formIntersection(_ o: MachineBitset) { for k in words.indices { words[k] &= o.words[k] } }
    }

    /// Why a machine could not take a unit (internal; summarised in ``Decision/Reason``).
    enum Rejection {
        case notPresent, machineID, metadata, capacity
        case peer(String)
        case conflict(Int)
        case replacedBy(Int)
        case wouldDisplaceAgain(Int)
        case invalid(String)
    }


    /// Counts why machines were rejected, to explain an unschedulable unit in one log line.
    /// Fixed counters: this runs for every skipped machine, so it must not hash or allocate.
    struct Tally {
        private static let labels = [
            "suspect (takes no new units)", "not the MachineID", "metadata mismatch", "at capacity",
            "MachineOf peer absent", "conflict", "replaced there", "would displace again", "invalid there",
        ]
        private var counts = [Int](repeating: 0, count: 9)
        private var examples = [String?](repeating: nil, count: 9)
        private var firstSeen: [Int] = []

        mutating func add(_ rejection: Rejection, _ planner: borrowing Planner) {
            let k: Int
            var example: String? = nil
            switch rejection {
            case .notPresent: k = 0
            case .machineID: k = 1
            case .metadata: k = 2
            case .capacity: k = 3
            case .peer(let p): k = 4; example = p
            case .conflict(let v): k = 5; example = planner.names[v]
            case .replacedBy(let v): k = 6; example = planner.names[v]
            case .wouldDisplaceAgain(let v): k = 7; example = planner.names[v]
            case .invalid(let e): k = 8; example = e
            }
            if counts[k] == 0 { firstSeen.append(k) }
            counts[k] += 1
            if examples[k] == nil { examples[k] = example }
        }

        var summary: String {
            let total = counts.reduce(0, +)
            let parts = firstSeen.map { k in
                "\(counts[k]) \(Self.labels[k])" + (examples[k].map { " (e.g. \($0))" } ?? "")
            }
            return "\(total) machines checked: " + parts.joined(separator: ", ")
        }
    }
}
