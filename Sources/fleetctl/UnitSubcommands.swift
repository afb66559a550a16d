import ArgumentParser
import Fleet

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upload unit files (or instances of templates) to the cluster without starting them.")
    @OptionGroup var globals: GlobalOptions
    @Flag(help: "Overwrite units in the registry whose contents differ from the local files.") var replace = false
    @Argument(help: "Unit files, unit names, or template instances (foo@1.service).") var units: [String]


    func run() async throws {
        try await finish { try await UnitCommands(context: globals.context()).submit(units, replace: replace) }
    }
}

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Schedule units onto machines and load them into systemd, submitting them first if needed.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var block: BlockingOptions
    @Flag(help: "Overwrite units in the registry whose contents differ from the local files.") var replace = false
    @Argument var units: [String]


    func run() async throws {
        try await finish {
            try await UnitCommands(context: globals.context())
                .activate(units, to: "loaded", replace: replace, blocking: block.blocking)
        }
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start units in the cluster, submitting and loading them first if needed.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var block: BlockingOptions
    @Flag(help: "Overwrite units in the registry whose contents differ from the local files.") var replace = false
    @Argument var units: [String]


    func run() async throws {
        try await finish {
            try await UnitCommands(context: globals.context())
                .activate(units, to: "launched", replace: replace, blocking: block.blocking)
        }
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop units (they stay loaded on their machines).")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var block: BlockingOptions
    @Argument var units: [String]


    func run() async throws {
        try await finish {
            try await UnitCommands(context: globals.context()).deactivate(units, to: "loaded", blocking: block.blocking)
        }
    }
}

struct Unload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unschedule units from their machines.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var block: BlockingOptions
    @Argument var units: [String]


    func run() async throws {
        try await finish {
            try await UnitCommands(context: globals.context()).deactivate(units, to: "inactive", blocking: block.blocking)
        }
    }
}

struct Destroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove units from the cluster.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var block: BlockingOptions
    @Argument var units: [String]


    func run() async throws {
        try await finish { try await UnitCommands(context: globals.context()).destroy(units, blocking: block.blocking) }
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
