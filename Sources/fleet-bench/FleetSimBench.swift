import ArgumentParser
import Fleet
import Foundation

/// `fleet-bench fleet-sim`: a simulated cluster (``SimulatedCluster``) converging on a large unit set,
/// then sitting idle (issue #5, benchmark 2).
///
/// Measures what fleet was notorious for at scale (fleet.md §4, §5.2): the time from the first unit
/// submitted until every unit is `launched` as the registry derives it *and* every fake systemd runs
/// exactly its units; then the CPU the whole process uses while nothing changes, and the CPU of
/// engines + store + presence alone (agents stopped), plus RSS. Targets: converge within 10 s with
/// 1,000 machines and 10,000 units; idle engine at most 2% of a core.
struct FleetSimBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-sim",
        abstract: "Simulated machines with real agents and a fake systemd: convergence time and idle CPU (release build).")

    @Option(help: "Number of machines (each with presence and an agent).") var machines = 1000
    @Option(help: "Number of units submitted (non-global), besides the global ones.") var units = 10_000
    @Option(help: "Global units (each limited to one rack of 1/40 of the machines).") var globals = 2
    @Option(help: "Engines competing for the leader lease.") var engines = 2
    @Option(help: "Seconds to wait for convergence before giving up.") var timeout = 300.0
    @Flag(help: "Engines read the whole registry on every pass instead of planning from their watched model.")
    var fullReads = false
    @Option(help: "Seconds of each idle CPU measurement.") var idle = 15.0
    @Option(help: "Directory for the results file (fleet-sim-<date>-<HHMM>.md); empty: do not write one.")
    var results = "bench-results"

    func run() async throws {
        let mix = try SimulatedUnits(count: units, machines: machines, globals: globals)
        let cluster = SimulatedCluster(machines: machines, engines: engines, fullReads: fullReads)
        let t0 = ProcessUsage.now()
        await cluster.start()
        let startup = ProcessUsage.now() - t0
        print("fleet-sim: \(machines) machines, \(units) units + \(globals) global, \(engines) engines; started in \(Self.format(startup)) s")

        let cpuBefore = ProcessUsage.cpuSeconds()
        let submitStart = ProcessUsage.now()
        try await cluster.submit(mix.scheduled + mix.global)
        let submitted = ProcessUsage.now() - submitStart
        print("submitted in \(Self.format(submitted)) s; waiting for convergence")
        let watcher = ConvergenceCheck(cluster: cluster, units: mix)
        // Polls the cheap count every 50 ms and reads the registry (every 250 ms at most) only once
        // the fake systemds run enough units: full reads every 0.5 s took 15–25% of the CPU of
        // the cluster being measured.
        var progress = await watcher.check()
        var lastFull = ProcessUsage.now()
        while !progress.converged && ProcessUsage.now() - submitStart < timeout {
            try await Task.sleep(for: .milliseconds(50))
            let count = watcher.systemdCount()
            (progress.systemdActive, progress.systemdExpected) = count
            guard count.active >= count.expected, ProcessUsage.now() - lastFull >= 0.25 else { continue }
            progress = await watcher.check()
            lastFull = ProcessUsage.now()
        }
        let converge = ProcessUsage.now() - submitStart
        let convergeCPU = ProcessUsage.cpuSeconds() - cpuBefore
        print(progress.converged
              ? "converged in \(Self.format(converge)) s (CPU \(Self.format(convergeCPU)) s)"
              : "NOT converged after \(Self.format(converge)) s: \(progress)")

        try await Task.sleep(for: .seconds(2))
        let idleAll = await ProcessUsage.cpuPercent(over: idle)
        let rssAll = ProcessUsage.residentMiB()
        await cluster.stopAgents()
        // Let the stopped agents' heartbeats and states expire first (agent TTL 30 s): the window
        // then holds only engines, store and presence refreshes.
        print("agents stopped; waiting \(SimulatedCluster.agentTTL + 2) s for their keys to expire")
        try await Task.sleep(for: .seconds(SimulatedCluster.agentTTL + 2))
        let statsBefore = await Self.statistics(cluster.engines)
        let idleEngine = await ProcessUsage.cpuPercent(over: idle)
        let statsIdle = Self.difference(await Self.statistics(cluster.engines), statsBefore)
        let rssEngine = ProcessUsage.residentMiB()
        let pass = await Self.measurePass(cluster.engines)
        await cluster.shutdown()

        let date = Date()
        let stamp = ISO8601DateFormatter().string(from: date)
        var rows: [(String, String)] = [
            ("date (UTC)", stamp),
            ("machines / units / global units / engines", "\(machines) / \(units) / \(globals) / \(engines)"),
            ("submit (fleetctl-like, 16 in flight)", "\(Self.format(submitted)) s"),
            ("converged", progress.converged ? "yes" : "NO: \(progress)"),
            ("time to converge (from first submit)", "\(Self.format(converge)) s (target ≤ 10 s)"),
            ("CPU used while converging", "\(Self.format(convergeCPU)) s"),
            ("idle CPU, whole process (agents + engines + store)", "\(Self.format(idleAll))% of a core over \(Self.format(idle)) s"),
            ("idle CPU, engines + store + presence (agents stopped, their keys expired)", "\(Self.format(idleEngine))% of a core (target ≤ 2%)"),
            ("engine passes in that window (all engines)",
             "\(statsIdle.fullReads) full reads: model confirmed \(statsIdle.modelsConfirmed), rebuilt \(statsIdle.modelRebuilds); plans skipped \(statsIdle.plansSkipped); \(statsIdle.eventPasses) event passes"),
            ("engine safety pass over the settled registry (leader, mean of 3: read, compare with the model, plan if needed)",
             pass.map { "\(Self.format($0.cpu)) CPU s, \(Self.format($0.wall)) s wall: \(Self.format($0.cpu / 30 * 100))% of a core at the 30 s safety interval" } ?? "no leader"),
            ("RSS with agents / after stopping them", "\(Self.format(rssAll ?? 0)) MiB / \(Self.format(rssEngine ?? 0)) MiB"),
        ]
        rows.append(("host", "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(Self.loadAverage())"))
        let width = rows.map(\.0.count).max() ?? 0
        print("")
        for (k, v) in rows { print(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }

        guard !results.isEmpty else { return }
        let day = String(stamp.prefix(10))
        let hhmm = String(stamp.dropFirst(11).prefix(5)).replacingOccurrences(of: ":", with: "")
        var md = "# fleet-bench fleet-sim, \(stamp)\n\n"
        md += "`fleet-bench fleet-sim --machines \(machines) --units \(units) --globals \(globals) --engines \(engines)\(fullReads ? " --full-reads" : "")` (release build)\n\n"
        md += "| measure | value |\n|---|---|\n"
        for (k, v) in rows { md += "| \(k) | \(v) |\n" }
        try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
        let path = "\(results)/fleet-sim-\(day)-\(hhmm).md"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) { md = existing + "\n" + md }
        try md.write(toFile: path, atomically: true, encoding: .utf8)
        print("\nwritten to \(path)")
    }

    /// CPU and wall seconds of one safety pass (full read compared with the followed model, plan
    /// only if needed, no writes) on the settled registry: what the periodic safety reconcile costs,
    /// independent of the idle window.
    static func measurePass(_ engines: [Engine]) async -> (cpu: Double, wall: Double)? {
        for engine in engines {
            var cpu = 0.0, wall = 0.0, passes = 0
            for _ in 0..<3 {
                let c0 = ProcessUsage.cpuSeconds(), t0 = ProcessUsage.now()
                guard case .reconciled = await engine.reconcileOnce() else { break }
                cpu += ProcessUsage.cpuSeconds() - c0
                wall += ProcessUsage.now() - t0
                passes += 1
            }
            if passes > 0 { return (cpu / Double(passes), wall / Double(passes)) }
        }
        return nil
    }

    /// The engines' pass counts, summed.
    static func statistics(_ engines: [Engine]) async -> EngineStatistics {
        var sum = EngineStatistics()
        for engine in engines { sum = combine(sum, await engine.statistics, +) }
        return sum
    }

    static func difference(_ a: EngineStatistics, _ b: EngineStatistics) -> EngineStatistics { combine(a, b, -) }

    /// Field by field.
    static func combine(_ a: EngineStatistics, _ b: EngineStatistics, _ op: (Int, Int) -> Int) -> EngineStatistics {
        var c = EngineStatistics()
        c.eventPasses = op(a.eventPasses, b.eventPasses)
        c.fullReads = op(a.fullReads, b.fullReads)
        c.modelsConfirmed = op(a.modelsConfirmed, b.modelsConfirmed)
        c.modelRebuilds = op(a.modelRebuilds, b.modelRebuilds)
        c.plansSkipped = op(a.plansSkipped, b.plansSkipped)
        return c
    }

    static func format(_ x: Double) -> String { String(format: "%.2f", x) }

    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
            .joined(separator: " ") ?? "unknown"
    }
}
