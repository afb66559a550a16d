import ArgumentParser
import Fleet
import Foundation

struct ListMachines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-machines", abstract: "List the machines in the cluster (fields: machine,ip,metadata).")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var list: ListOptions

    func run() async throws {
        try await finish { try await InspectCommands(context: globals.context()).listMachines(list.options) }
    }
}

struct ListUnits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-units",
        abstract: "List the state of units loaded on machines (fields: active,hash,load,machine,sub,unit).")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var list: ListOptions

    func run() async throws {
        try await finish { try await InspectCommands(context: globals.context()).listUnits(list.options) }
    }
}

struct ListUnitFiles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-unit-files",
        abstract: "List the units in the cluster (fields: desc,dstate,global,hash,state,target,tmachine,unit).")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var list: ListOptions

    func run() async throws {
        try await finish { try await InspectCommands(context: globals.context()).listUnitFiles(list.options) }
    }
}

struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the unit file stored in the cluster.")
    @OptionGroup var globals: GlobalOptions
    @Argument var unit: String

    func run() async throws {
        try await finish { try await InspectCommands(context: globals.context()).cat(unit) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show systemd's status of units, read through the fleet API from the machines running them.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Machine ID (or unique prefix) to ask; global units default to every machine running them.")
    var machine: String?
    @Argument var units: [String]


    func run() async throws {
        try await finish { try await InspectCommands(context: globals.context()).status(units, machine: machine) }
    }
}

struct Journal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the journal of a unit, read through the fleet API from the machine running it.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Number of recent lines to print.") var lines = 10
    @Flag(name: [.customLong("follow"), .customShort("f"), .customLong("f")], help: "Keep printing new lines.")
    var follow = false
    @Option(help: "Machine ID (or unique prefix) to read from; needed for a global unit on several machines.")
    var machine: String?
    @Argument var unit: String

    func run() async throws {
        try await finish {
            try await InspectCommands(context: globals.context())
                .journal(unit, lines: lines, follow: follow, machine: machine)
        }
    }
}

struct SSH: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open a shell or run a command on a machine (by ID prefix) or on the machine of a unit.",
        discussion: "Runs the system ssh to the machine's public IP: fleetctl ssh MACHINE|UNIT [COMMAND...]")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Machine ID or unique prefix.") var machine: String?
    @Option(help: "Unit whose machine to connect to.") var unit: String?
    @Flag(name: [.customLong("forward-agent"), .customShort("A"), .customLong("A")],
          help: "Forward the local ssh-agent.")
    var forwardAgent = false
    @Option(help: "SSH port.") var sshPort = 22
    @Argument(parsing: .captureForPassthrough, help: "MACHINE or UNIT (unless --machine/--unit), then the command.")
    var words: [String] = []

    func validate() throws {
        if machine != nil && unit != nil { throw ValidationError("give --machine or --unit, not both") }
        if machine == nil && unit == nil && words.isEmpty { throw ValidationError("ssh needs a machine or unit") }
    }

    func run() async throws {
        let resolver = try MachineResolver(context: globals.context())
        var command = words
        let target: APIMachine
        if let machine {
            target = try await resolver.machine(prefix: machine)
        } else if let unit {
            target = try await resolver.machine(ofUnit: unit)
        } else {
            target = try await resolver.machine(named: command.removeFirst())
        }
        guard !target.primaryIP.isEmpty else {
            throw CLIError.local("Machine \(target.id) has no public IP to connect to")
        }
        let argv = globals.ssh(port: sshPort, forwardAgent: forwardAgent)
            .arguments(host: target.primaryIP, command: command, home: ProcessInfo.processInfo.environment["HOME"])
        try execute(argv)
    }

    /// Replaces fleetctl with ssh, so the terminal, signals and exit status are ssh's.
    private func execute(_ argv: [String]) throws {
        var pointers = argv.map { strdup($0) }
        pointers.append(nil)
        execvp(argv[0], &pointers)
        throw CLIError.local("cannot run ssh: \(String(cString: strerror(errno)))")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and exit.")
    func run() { Console.standard.out("fleetctl version \(FleetModule.version)\n") }
}

struct Completion: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a shell completion script: fleetctl completion bash|zsh|fish.")
    @Argument(help: "bash, zsh or fish.") var shell: String

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else {
            throw ValidationError("unknown shell \"\(shell)\"; expected bash, zsh or fish")
        }
        Console.standard.out(FleetctlCommand.completionScript(for: kind))
    }
}
