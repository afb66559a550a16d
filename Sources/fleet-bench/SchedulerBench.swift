import ArgumentParser
import Fleet

#if canImport(Glibc)
    import Glibc
#endif

/// `fleet-bench scheduler`: times ``Scheduler/plan(machines:units:schedule:)`` on a synthetic cluster.
///
/// The cluster mixes what real fleets run: plain services, metadata-constrained ones, template
/// instances with `Conflicts=%p@*.service`, MachineOf sidekicks, a few pinned and global units, and a
/// schedule where half the units are already placed and 5% of machines have just vanished.
struct SchedulerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "Time one scheduling plan (run in release: swift run -c release).")

    @Option(help: "Number of machines.") var machines = 1000
    @Option(help: "Number of units.") var units = 10_000
    @Option(help: "Timed repetitions (the best and median are printed).") var iterations = 5

    func run() throws {
        let (ms, us, schedule) = try Self.cluster(machines: machines, units: units)
        var times: [Double] = []
        var summary = ""
        for _ in 0..<max(1, iterations) {
            let start = Self.now()
            let decisions = Scheduler.plan(machines: ms, units: us, schedule: schedule)
            times.append(Self.now() - start)
            var s = 0, u = 0, x = 0, h = 0
            for d in decisions {
                switch d.action {
                case .schedule: s += 1
                case .unschedule: u += 1
                case .unschedulable: x += 1
                case .hold: h += 1
                }
            }
            summary = "\(decisions.count) decisions (\(s) schedule, \(u) unschedule, \(x) unschedulable, \(h) held)"
        }
        times.sort()
        let ms1 = { (t: Double) in String(Int((t * 1000).rounded())) }
        print("scheduler plan: \(machines) machines, \(units) units, \(schedule.count) already scheduled")
        print("  \(summary)")
        print("  best \(ms1(times.first!)) ms, median \(ms1(times[times.count / 2])) ms over \(times.count) runs")

        // The engine's usual case: everything placed, nothing to do.
        var settled = schedule
        for d in Scheduler.plan(machines: ms, units: us, schedule: schedule) {
            switch d.action {
            case .schedule(let m): settled[d.unit] = m
            case .unschedule(let m): if settled[d.unit] == m { settled[d.unit] = nil }
            case .unschedulable, .hold: break
            }
        }
        var steady: [Double] = []
        var leftover = 0
        for _ in 0..<max(1, iterations) {
            let start = Self.now()
            leftover = Scheduler.plan(machines: ms, units: us, schedule: settled).count
            steady.append(Self.now() - start)
        }
        steady.sort()
        print("steady state (\(settled.count) scheduled, \(leftover) decisions): best \(ms1(steady.first!)) ms, median \(ms1(steady[steady.count / 2])) ms")
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func cluster(machines: Int, units: Int) throws -> ([SchedulerMachine], [SchedulerUnit], [String: String]) {
        func hexID(_ i: Int) -> String {
            let h = String(i, radix: 16)
            return String(repeating: "0", count: 32 - h.count) + h
        }
        let zones = ["zone0", "zone1", "zone2", "zone3", "zone4"]
        var ms: [SchedulerMachine] = []
        for i in 0..<machines {
            ms.append(SchedulerMachine(
                id: hexID(i + 1),
                metadata: ["az": zones[i % zones.count], "disk": i % 3 == 0 ? "ssd" : "hdd", "rack": "r\(i % 40)"]))
        }
        var us: [SchedulerUnit] = []
        var schedule: [String: String] = [:]
        for i in 0..<units {
            let name: String
            var xfleet = ""
            switch i % 20 {
            case 0..<10: name = "app\(i).service"
            case 10..<14:
                name = "db\(i).service"
                xfleet = "MachineMetadata=disk=ssd\nMachineMetadata=az=\(zones[i % 5]) az=\(zones[(i + 1) % 5])\n"
            case 14..<16:
                name = "web\(i / 400)@\(i).service"
                xfleet = "Conflicts=%p@*.service\n"
            case 16, 17:
                name = "side\(i).service"
                xfleet = "MachineOf=app\(i - i % 20 + (i % 20 - 16)).service\n"
            case 18:
                name = "pinned\(i).service"
                xfleet = "MachineID=\(hexID(i % machines + 1))\n"
            default:
                if i < 200 {
                    name = "global\(i).service"
                    xfleet = "Global=true\nMachineMetadata=rack=r\(i % 40)\n"
                } else {
                    name = "new\(i).service"
                    xfleet = "Replaces=app\(i - 19).service\n"
                }
            }
            let text = "[Unit]\nDescription=\(name)\n\n[Service]\nExecStart=/bin/sleep infinity\n"
                + (xfleet.isEmpty ? "" : "\n[X-Fleet]\n" + xfleet)
            let unit = try RegistryUnit(name: name, text: text, desiredState: .launched)
            us.append(SchedulerUnit(unit))
            // Half the units are already placed; 5% of those on machines that have just gone.
            if i % 2 == 0, !unit.options.isGlobal, unit.options.machineOf.isEmpty, unit.options.machineID == nil {
                schedule[name] = hexID((i * 7919) % (machines + machines / 20) + 1)
            }
        }
        return (ms, us, schedule)
    }
}
