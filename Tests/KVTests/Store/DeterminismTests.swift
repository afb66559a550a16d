import Testing
@testable import KV

/// Random command logs (seeded, so reproducible): members applying the same log agree byte for byte,
/// and a member restored from a snapshot mid-log ends identical to one that applied everything.
@Suite struct DeterminismTests {
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    func randomLog(seed: UInt64, count: Int) -> [StoreCommand] {
        var rng = SplitMix64(state: seed)
        var now: Int64 = 1_795_473_695_000_000_000
        let keys = ["/1/a", "/1/b", "/1/d/x", "/1/d/y", "/1/d/e/f", "/1/_h", "/1/q", "/1/d"]
        var log: [StoreCommand] = []
        for _ in 0..<count {
            now += Int64(rng.below(800)) * 1_000_000
            let k = keys[rng.below(keys.count)]
            let v = ["", "v1", "v2", "<x>"][rng.below(4)]
            let ttl: UInt64? = rng.below(3) == 0 ? UInt64(rng.below(4)) : nil
            let op: StoreOperation
            switch rng.below(10) {
            case 0: op = .set(key: k, value: v, dir: rng.below(4) == 0, ttl: ttl, refresh: false)
            case 1: op = .create(key: k, value: v, dir: rng.below(3) == 0, ttl: ttl, inOrder: rng.below(2) == 0)
            case 2: op = .update(key: k, value: v, ttl: ttl, refresh: rng.below(3) == 0)
            case 3: op = .compareAndSwap(key: k, value: v, prevValue: ["", "v1", "v2"][rng.below(3)],
                                         prevIndex: UInt64(rng.below(20)), ttl: ttl, refresh: false)
            case 4: op = .delete(key: k, dir: rng.below(2) == 0, recursive: rng.below(2) == 0)
            case 5: op = .compareAndDelete(key: k, prevValue: ["", "v1"][rng.below(2)], prevIndex: UInt64(rng.below(20)))
            case 6: op = .get(key: k, recursive: true, sorted: false)
            case 7: op = .expire
            default: op = .set(key: k, value: v, dir: false, ttl: ttl, refresh: false)
            }
            log.append(StoreCommand(now: now, op))
        }
        return log
    }

    @Test(arguments: [1, 2, 3, 42, 1234] as [UInt64])
    func membersAgree(seed: UInt64) throws {
        let log = randomLog(seed: seed, count: 400)
        let a = Store(historyCapacity: 50), b = Store(historyCapacity: 50), c = Store(historyCapacity: 50)
        let cut = 150
        var outcomesA: [StoreOutcome] = []
        for (i, cmd) in log.enumerated() {
            outcomesA.append(a.apply(cmd))
            #expect(b.apply(try StoreCommand(decoding: cmd.encoded())) == outcomesA[i])
            if i == cut { try c.restore(a.snapshot()) }
            if i > cut { #expect(c.apply(cmd) == outcomesA[i]) }
        }
        #expect(a.currentIndex > 50)
        #expect(a.snapshot() == b.snapshot())
        #expect(a.hash() == b.hash())
        #expect(a.hash() == c.hash())
        // every success consumed exactly one index, every expired node one more
        var successes: UInt64 = 0
        for o in outcomesA {
            switch o {
            case .event(let e) where e.action != .get: successes += 1
            case .expired(let evs): successes += UInt64(evs.count)
            default: break
            }
        }
        #expect(successes == a.currentIndex)
    }
}
