import ArgumentParser
import Fleet

/// What the state-changing commands share: the global flags, --block-attempts/--no-block, and the
/// units (a name without a suffix means NAME.service; submit/load/start also take file paths).
struct UnitStateArguments: ParsableArguments {
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var block: BlockingOptions
    @Argument(help: "Units: names, unit files, or instances of templates (foo@1.service).") var units: [String]

    func commands() throws(CLIError) -> UnitCommands { UnitCommands(context: try globals.context()) }
}

/// `--replace` of submit, load and start.
struct ReplaceFlag: ParsableArguments {
    @Flag(help: "Overwrite units in the registry whose contents differ from the local files.") var replace = false
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upload unit files (or instances of templates) to the cluster without starting them.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var replace: ReplaceFlag
    @Argument(help: "Unit files, unit names, or template instances (foo@1.service).") var units: [String]

    func run() async throws {
        try await finish { try await UnitCommands(context: globals.context()).submit(units, replace: replace.replace) }
    }
}

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Schedule units onto machines and load them into systemd, submitting them first if needed.")
    @OptionGroup var arguments: UnitStateArguments
    @OptionGroup var replace: ReplaceFlag

    func run() async throws {
        try await finish {
            try await arguments.commands()
                .activate(arguments.units, to: "loaded", replace: replace.replace, blocking: arguments.block.blocking)
        }
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start units in the cluster, submitting and loading them first if needed.")
    @OptionGroup var arguments: UnitStateArguments
    @OptionGroup var replace: ReplaceFlag

    func run() async throws {
        try await finish {
            try await arguments.commands()
                .activate(arguments.units, to: "launched", replace: replace.replace, blocking: arguments.block.blocking)
        }
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop units (they stay loaded on their machines).")
    @OptionGroup var arguments: UnitStateArguments

    func run() async throws {
        try await finish {
            try await arguments.commands().deactivate(arguments.units, to: "loaded", blocking: arguments.block.blocking)
        }
    }
}

struct Unload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unschedule units from their machines.")
    @OptionGroup var arguments: UnitStateArguments

    func run() async throws {
        try await finish {
            try await arguments.commands().deactivate(arguments.units, to: "inactive", blocking: arguments.block.blocking)
        }
    }
}

struct Destroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove units from the cluster.")
    @OptionGroup var arguments: UnitStateArguments

    func run() async throws {
        try await finish { try await arguments.commands().destroy(arguments.units, blocking: arguments.block.blocking) }
    }
}

struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restart units: stop each until systemd reports it inactive, then start it until it is active.")
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Wait at most N attempts of 2 s each for each half of the restart; 0 waits forever.")
    var blockAttempts = 0
    @Argument var units: [String]

    func validate() throws {
        if blockAttempts < 0 { throw ValidationError("--block-attempts must be 0 or more") }
    }

    func run() async throws {
        try await finish { try await UnitCommands(context: globals.context()).restart(units, attempts: blockAttempts) }
    }
}
