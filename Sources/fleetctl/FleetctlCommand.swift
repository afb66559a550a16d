import ArgumentParser
import Fleet
import Foundation

/// fleetctl: the command-line client of fleetd's API. This target only parses arguments and wires
/// things; the logic (tables, lazy submit, blocking, messages, exit codes) lives in Fleet/CLI.
@main
struct FleetctlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetctl",
        abstract: "Control a fleet cluster.",
        discussion: """
            Command names may be abbreviated to a unique prefix (fleetctl list-m). A unit name without \
            a type suffix means NAME.service. Every global flag can also be set with an environment \
            variable FLEETCTL_<FLAG> (FLEETCTL_ENDPOINT, FLEETCTL_REQUEST_TIMEOUT, ...); a flag on the \
            command line wins. fleet's --driver=etcd, --tunnel, --sign, --experimental-api, \
            --etcd-key-prefix, --etcd-keyfile/--etcd-certfile/--etcd-cafile and the TLS files \
            (--ca-file, --cert-file, --key-file) are refused with an error.

            \(FleetctlExitCode.documentation)
            """,
        version: "fleetctl version \(FleetModule.version)",
        subcommands: [
            ListMachines.self, ListUnits.self, ListUnitFiles.self, Submit.self, Load.self, Start.self, Stop.self,
            Unload.self, Destroy.self, Restart.self, Status.self, Journal.self, Cat.self, SSH.self, Version.self,
            Completion.self,
        ]
    )

    func run() async throws {
        throw ValidationError("no command given")
    }

    /// Parses (after ``ArgumentPreprocessor``), runs, and exits with a ``FleetctlExitCode``:
    /// usage errors print the error and the usage text on stderr and exit 2.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            let rewritten = try ArgumentPreprocessor.rewrite(arguments, environment: ProcessInfo.processInfo.environment)
            var command = try parseAsRoot(rewritten)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            Console.standard.err("\(error)\n")
            if error.exitCode == .usage { Console.standard.err("See 'fleetctl help'.\n") }
            Foundation.exit(error.exitCode.rawValue)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let status = exitCode(for: error)
            if status == .success {
                Console.standard.out(fullMessage(for: error) + "\n")
                Foundation.exit(0)
            }
            Console.standard.err(fullMessage(for: error) + "\n")
            Foundation.exit(FleetctlExitCode.usage.rawValue)
        }
    }
}
