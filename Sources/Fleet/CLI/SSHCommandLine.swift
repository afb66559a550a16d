/// The system `ssh` invocation behind `fleetctl ssh`: fleet dialed SSH itself (agent-only auth,
/// its own known_hosts handling); we hand the job to OpenSSH with the equivalent options, so keys,
/// agents and config work as the user already has them.
public struct SSHSettings: Sendable, Equatable {
    public var username: String
    /// `--ssh-timeout` in seconds (ssh's ConnectTimeout, rounded up to whole seconds).
    public var timeout: Double
    public var strictHostKeyChecking: Bool
    public var knownHostsFile: String
    public var port: Int
    public var forwardAgent: Bool

    public init(username: String = "core", timeout: Double = 10, strictHostKeyChecking: Bool = true,
                knownHostsFile: String = "~/.fleetctl/known_hosts", port: Int = 22, forwardAgent: Bool = false) {
        self.username = username
        self.timeout = timeout
        self.strictHostKeyChecking = strictHostKeyChecking
        self.knownHostsFile = knownHostsFile
        self.port = port
        self.forwardAgent = forwardAgent
    }

    /// argv for `ssh` to `host`, running `command` (an interactive shell when empty).
    /// Strict checking asks before trusting a new host (and records it); off accepts any key.
    public func arguments(host: String, command: [String], home: String?) -> [String] {
        var knownHosts = knownHostsFile
        if knownHosts.hasPrefix("~/"), let home { knownHosts = home + String(knownHosts.dropFirst(1)) }
        var argv = [
            "ssh", "-l", username, "-p", String(port),
            "-o", "ConnectTimeout=\(Int(timeout.rounded(.up)))",
            "-o", "StrictHostKeyChecking=\(strictHostKeyChecking ? "ask" : "no")",
            "-o", "UserKnownHostsFile=\(knownHosts)",
        ]
        if forwardAgent { argv.append("-A") }
        if command.isEmpty { argv.append(host) } else { argv += ["-t", host, "--"] + command }
        return argv
    }
}
