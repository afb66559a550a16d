import Testing
import TestSupport

/// The checker the fault suite relies on: it must reject stale reads and lost writes, and accept
/// histories whose unknown outcomes explain what was observed (either way).
@Suite struct RegisterLinearizabilityTests {
    typealias Op = RegisterOperation

    /// Builds an operation; unknown outcomes get no completion time.
    func op(_ c: Int, _ kind: Op.Kind, _ outcome: Op.Outcome = .ok, _ invoked: UInt64, _ completed: UInt64 = 0,
            key: String = "k") -> Op {
        Op(client: c, key: key, kind: kind, outcome: outcome, invoked: invoked, completed: completed)
    }

    func verdict(_ ops: [Op]) -> RegisterLinearizability.Report { RegisterLinearizability.check(ops) }

    @Test func sequentialHistoryIsLinearizable() {
        let r = verdict([
            op(1, .read(nil), .ok, 1, 2),
            op(1, .write("a"), .ok, 3, 4),
            op(2, .read("a"), .ok, 5, 6),
            op(2, .cas(expected: "a", new: "b"), .ok, 7, 8),
            op(1, .read("b"), .ok, 9, 10),
        ])
        #expect(r.isLinearizable)
        #expect(r.operationsChecked == 5)
    }

    @Test func staleReadIsRejected() {
        // b is acknowledged before the read starts; the read still sees a.
        let r = verdict([
            op(1, .write("a"), .ok, 1, 2),
            op(1, .write("b"), .ok, 3, 4),
            op(2, .read("a"), .ok, 5, 6),
        ])
        #expect(!r.isLinearizable)
        #expect(r.violations.count == 1)
    }

    @Test func lostAcknowledgedWriteIsRejected() {
        // b was acknowledged, then a read finds the key absent (the write was lost).
        let r = verdict([
            op(1, .write("b"), .ok, 1, 2),
            op(2, .read(nil), .ok, 3, 4),
        ])
        #expect(!r.isLinearizable)
    }

    @Test func casMustSeeTheExpectedValue() {
        let r = verdict([
            op(1, .write("a"), .ok, 1, 2),
            op(2, .cas(expected: "x", new: "y"), .ok, 3, 4),
        ])
        #expect(!r.isLinearizable)
    }

    @Test func concurrentOperationsMayTakeEitherOrder() {
        // The read overlaps both writes and sees the first; a later read sees the second.
        let r = verdict([
            op(1, .write("a"), .ok, 1, 5),
            op(2, .write("b"), .ok, 2, 6),
            op(3, .read("a"), .ok, 3, 7),
            op(3, .read("b"), .ok, 8, 9),
        ])
        #expect(r.isLinearizable)
    }

    @Test func unknownWriteMayTakeEffectLater() {
        // The write timed out at 2, yet its value shows up much later: fine, it was pending.
        let r = verdict([
            op(1, .write("a"), .ok, 1, 2),
            op(2, .write("u"), .unknown, 3),
            op(1, .read("a"), .ok, 10, 11),
            op(1, .read("u"), .ok, 20, 21),
        ])
        #expect(r.isLinearizable)
    }

    @Test func unknownWriteMayNeverTakeEffect() {
        let r = verdict([
            op(1, .write("a"), .ok, 1, 2),
            op(2, .write("u"), .unknown, 3),
            op(2, .cas(expected: "u", new: "v"), .unknown, 4),
            op(1, .read("a"), .ok, 10, 11),
        ])
        #expect(r.isLinearizable)
    }

    @Test func unknownWriteCannotTakeEffectBeforeItsInvocation() {
        // u is read before the write of u was even invoked.
        let r = verdict([
            op(1, .read("u"), .ok, 1, 2),
            op(2, .write("u"), .unknown, 3),
        ])
        #expect(!r.isLinearizable)
    }

    @Test func unknownWriteTakesEffectOnlyOnce() {
        // u, then a, then u again: one unknown write cannot explain both reads of u.
        let r = verdict([
            op(2, .write("u"), .unknown, 1),
            op(1, .read("u"), .ok, 2, 3),
            op(1, .write("a"), .ok, 4, 5),
            op(1, .read("u"), .ok, 6, 7),
        ])
        #expect(!r.isLinearizable)
    }

    @Test func failedOperationsHaveNoEffect() {
        // A CAS that failed for sure (etcd 101) must not be used to explain a read of its value.
        let r = verdict([
            op(1, .write("a"), .ok, 1, 2),
            op(2, .cas(expected: "z", new: "c"), .failed, 3, 4),
            op(1, .read("c"), .ok, 5, 6),
        ])
        #expect(!r.isLinearizable)
    }

    @Test func keysAreCheckedIndependently() {
        let r = verdict([
            op(1, .write("a"), .ok, 1, 2, key: "x"),
            op(1, .read("a"), .ok, 3, 4, key: "x"),
            op(1, .read("a"), .ok, 3, 4, key: "y"),
        ])
        #expect(!r.isLinearizable)
        #expect(r.violations == [.violation(key: "y", operations: [op(1, .read("a"), .ok, 3, 4, key: "y")])])
        #expect(r.verdicts["x"] == .linearizable)
    }

    @Test func manyUnobservedUnknownWritesArePrunedAndStayCheap() {
        // A long partition: hundreds of timed-out writes nobody read, around acknowledged traffic.
        var ops: [Op] = []
        var t: UInt64 = 0
        for i in 0..<400 {
            t += 1
            ops.append(op(i % 5, .write("lost\(i)"), .unknown, t))
            t += 1
            ops.append(op(9, .write("v\(i)"), .ok, t, t + 1))
            t += 2
            ops.append(op(8, .read("v\(i)"), .ok, t, t + 1))
            t += 1
        }
        let r = RegisterLinearizability.check(ops, maxStepsPerKey: 100_000)
        #expect(r.isLinearizable)
        #expect(r.operationsChecked == 800)
    }

    @Test func exhaustedBudgetIsUndeterminedNotAPass() {
        // Many overlapping writes read in an impossible order make the search wide.
        var ops: [Op] = (0..<14).map { op($0, .write("w\($0)"), .ok, UInt64($0), 100) }
        ops.append(op(20, .read("missing"), .ok, 101, 102))
        let r = RegisterLinearizability.check(ops, maxStepsPerKey: 50)
        #expect(r.undetermined == ["k"])
        #expect(!r.isLinearizable)
    }
}
