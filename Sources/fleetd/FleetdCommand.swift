import ArgumentParser
import Fleet
import KV

/// fleetd: the daemon. Parses arguments and wires the libraries together; no logic lives here.
@main
struct FleetdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetd",
        abstract: "Cluster daemon: key-value store member, fleet engine and agent.",
        version: "fleetd version \(FleetModule.version)"
    )

    func run() async throws {
        throw ValidationError("no subcommand given; see fleetd --help")
    }
}
