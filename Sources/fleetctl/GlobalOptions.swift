import ArgumentParser
import Fleet
import KV
import Foundation

/// fleetctl's global flags. Each can also come from `FLEETCTL_<FLAG>` (merged into argv by
/// ``ArgumentPreprocessor`` before parsing, so a flag on the command line wins).
struct GlobalOptions: ParsableArguments {
    @Option(help: "fleet API URL(s), comma-separated for failover: unix:///path, http://host:port or https://host:port (FLEETCTL_ENDPOINT).")
    var endpoint = EndpointList.defaultEndpoint

    @Option(help: "Seconds to wait for each API request (FLEETCTL_REQUEST_TIMEOUT).")
    var requestTimeout: Double = 3.0

    @Option(help: "User for 'fleetctl ssh' (FLEETCTL_SSH_USERNAME).")
    var sshUsername = "core"

    @Option(help: "Seconds to wait for an SSH connection (FLEETCTL_SSH_TIMEOUT).")
    var sshTimeout: Double = 10.0

    @Option(help: "Check SSH host keys against --known-hosts-file, true or false (FLEETCTL_STRICT_HOST_KEY_CHECKING).")
    var strictHostKeyChecking = true

    @Option(help: "Known hosts file for 'fleetctl ssh' (FLEETCTL_KNOWN_HOSTS_FILE).")
    var knownHostsFile = "~/.fleetctl/known_hosts"

    @Option(help: "CA certificate (PEM) that https endpoints must chain to; default: the system's (FLEETCTL_CA_FILE).")
    var caFile = ""

    @Option(help: "Client certificate (PEM) presented to https endpoints (FLEETCTL_CERT_FILE).")
    var certFile = ""

    @Option(help: "Private key (PEM) of --cert-file (FLEETCTL_KEY_FILE).")
    var keyFile = ""

    @Flag(help: "Log each API call to stderr (FLEETCTL_DEBUG).")
    var debug = false

    /// The context commands run in: the API client for the endpoints, wrapped for --debug.
    func context() throws(CLIError) -> FleetctlContext {
        let endpoints = try EndpointList.parse(endpoint)
        let timeout = try EndpointList.timeout(requestTimeout)
        let tls = TLSFiles(caFile: caFile, certFile: certFile, keyFile: keyFile)
        var api = try APIClientFactory.make(endpoints: endpoints, requestTimeout: timeout, tls: tls)
        if debug { api = DebugLoggingAPI(api, log: Console.standard.err) }
        return FleetctlContext(api: api)
    }

    func ssh(port: Int, forwardAgent: Bool) -> SSHSettings {
        SSHSettings(username: sshUsername, timeout: sshTimeout, strictHostKeyChecking: strictHostKeyChecking,
                    knownHostsFile: knownHostsFile, port: port, forwardAgent: forwardAgent)
    }
}

/// `--full`/`-l`, `--no-legend`, `--fields` of the list commands.
struct ListOptions: ParsableArguments {
    @Flag(name: [.customLong("full"), .customShort("l"), .customLong("l")],
          help: "Do not truncate machine IDs and hashes.")
    var full = false

    @Flag(name: .customLong("no-legend"), help: "Do not print the header line.")
    var noLegend = false

    @Option(help: "Comma-separated columns to print.")
    var fields: String?

    var options: ListTables.Options { ListTables.Options(full: full, noLegend: noLegend, fields: fields) }
}

/// `--block-attempts` and `--no-block` of the state-changing commands.
struct BlockingOptions: ParsableArguments {
    @Option(help: "Wait at most N attempts of 2 s each for the units to reach their state; 0 waits forever.")
    var blockAttempts = 0

    @Flag(help: "Do not wait for the units to reach their state.")
    var noBlock = false

    func validate() throws {
        guard blockAttempts >= 0 else { throw ValidationError("--block-attempts must be 0 or more") }
    }

    var blocking: UnitCommands.Blocking { UnitCommands.Blocking(attempts: blockAttempts, noBlock: noBlock) }
}

/// Runs a command's library call and turns its exit code into the process's.
func finish(_ body: () async throws -> FleetctlExitCode) async throws {
    let code = try await body()
    if code != .success { throw ExitCode(code.rawValue) }
}
