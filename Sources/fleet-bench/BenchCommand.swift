import ArgumentParser

/// fleet-bench: benchmarks that print figures. Benchmarks are never tests; each is a subcommand.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-bench",
        abstract: "Benchmarks of the store, the Raft core and the scheduler; they print figures.",
        subcommands: [
            // One line per benchmark subcommand.
            KVBench.self,
            WALBench.self,
            RaftBench.self,
            SchedulerBench.self,
            FleetSimBench.self,
        ]
    )
}
