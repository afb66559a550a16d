import Foundation
import KV
import Testing

/// Deterministic cluster simulation sweep. Every seed is a reproducible run (3, 5 or 7 nodes,
/// fault rate 0...0.8); any failed check reports the seed. `RAFT_SOAK_SEEDS=N` runs N more
/// seeds in `soak`; `RAFT_SEED=S` replays one seed in `replaySeed`.
///
/// Teeth (scratch breakages of the core, reverted; details in docs/raft.md): dropping the
/// current-term commit rule fails seeds 1523 and 2537 (leader completeness); accepting any
/// candidate log fails seed 0 (leader completeness); ReadIndex without a heartbeat quorum
/// fails seed 1078 (linearizability).
@Suite struct RaftSimulationTests {
    static let chunks = 50
    static let seedsPerChunk = 100

    static func runSeeds(_ seeds: some Sequence<UInt64>, report: Bool = false) -> [SimFailure] {
        var failures: [SimFailure] = []
        var total = SimStats()
        var runs = 0
        var maxRecover = 0
        let onlyFlap = environment("RAFT_ONLY_FLAP") != nil
        for seed in seeds {
            if onlyFlap && !(SimOptions.mixed(seed: seed).flap) { continue }
            do throws(SimFailure) {
                var o = SimOptions.mixed(seed: seed)
                if let t = environment("RAFT_FAULT_TICKS").flatMap({ Int($0) }) { o.faultTicks = t }
                let s = try Simulation(o).run()
                runs += 1
                total.committed += s.committed
                total.leaders += s.leaders
                total.ops += s.ops
                total.ticksToRecover += s.ticksToRecover
                maxRecover = max(maxRecover, s.ticksToRecover)
            } catch {
                failures.append(error)
            }
        }
        if report && runs > 0 {
            print("raft sim: \(runs) ok, \(failures.count) failed; per run avg committed \(total.committed / runs), leaders \(total.leaders / runs), client ops \(total.ops / runs), ticks to recover avg \(total.ticksToRecover / runs) max \(maxRecover)")
        }
        return failures
    }

    /// 5,000 seeds in chunks that the test runner can spread over cores.
    @Test(arguments: 0..<chunks)
    func sweep(chunk: Int) {
        let lo = UInt64(chunk * Self.seedsPerChunk)
        let failures = Self.runSeeds(lo..<lo + UInt64(Self.seedsPerChunk))
        for f in failures.prefix(3) { Issue.record("\(f)") }
        #expect(failures.isEmpty, "\(failures.count) failing seeds in chunk \(chunk)")
    }

    @Test func replaySeed() {
        guard let s = environment("RAFT_SEED"), let seed = UInt64(s) else { return }
        do throws(SimFailure) {
            let sim = Simulation(SimOptions.mixed(seed: seed))
            sim.trace = environment("RAFT_TRACE") != nil
            let stats = try sim.run()
            print("seed \(seed): ok \(stats)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func soak() {
        guard let s = environment("RAFT_SOAK_SEEDS"), let n = UInt64(s) else { return }
        let start = UInt64(environment("RAFT_SOAK_START").flatMap { UInt64($0) } ?? 1_000_000)
        let failures = Self.runSeeds(start..<start + n, report: true)
        for f in failures.prefix(10) { Issue.record("\(f)") }
        #expect(failures.isEmpty)
    }
}

func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name]
}
