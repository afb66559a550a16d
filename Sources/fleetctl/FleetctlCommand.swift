import ArgumentParser
import Fleet

/// fleetctl: the command-line client of fleetd's API. Parses arguments; the client logic lives in Fleet.
@main
struct FleetctlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetctl",
        abstract: "Control a fleet cluster.",
        version: "fleetctl version \(FleetModule.version)"
    )

    func run() async throws {
        throw ValidationError("no command given; see fleetctl --help")
    }
}
