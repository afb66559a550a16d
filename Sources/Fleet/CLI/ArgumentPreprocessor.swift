/// Rewrites fleetctl's argv before swift-argument-parser sees it, for what that parser cannot
/// express: `-v` as the first argument meaning `version`; command names abbreviated to a unique
/// prefix (`fleetctl list-m`); every global flag also taken from a `FLEETCTL_<FLAG>` environment
/// variable (a flag on the command line wins); global flags before the command name moved after it,
/// where the subcommand parses them; and fleet flags this fleetctl cannot honour (etcd
/// driver, SSH tunnel, signing, the deprecated etcd TLS flags) refused with a message naming the flag, instead of being
/// silently ignored as fleet did with `--sign`.
public enum ArgumentPreprocessor {
    /// Every command name, for abbreviation.
    public static let commands = [
        "cat", "completion", "destroy", "help", "journal", "list-machines", "list-unit-files", "list-units",
        "load", "restart", "ssh", "start", "status", "stop", "submit", "unload", "version",
    ]

    /// Global flags taking a value, with their environment variable. Bool flags take `=true|false`.
    public static let globalFlags: [(flag: String, takesValue: Bool)] = [
        ("endpoint", true), ("request-timeout", true), ("ssh-username", true), ("ssh-timeout", true),
        ("strict-host-key-checking", true), ("known-hosts-file", true), ("debug", false),
        ("ca-file", true), ("cert-file", true), ("key-file", true),
    ]

    /// Flags of fleet's that are refused, and why.
    public static let rejectedFlags: [String: String] = [
        "driver": "only the API driver exists; fleetctl talks to fleetd, not to etcd",
        "etcd-key-prefix": "it only applied to --driver=etcd, which is not supported",
        "experimental-api": "deprecated in fleet; the API is always used",
        "etcd-keyfile": "deprecated in fleet; use --key-file",
        "etcd-certfile": "deprecated in fleet; use --cert-file",
        "etcd-cafile": "deprecated in fleet; use --ca-file",
        "tunnel": "SSH tunnelling is not supported; use an http:// endpoint or run fleetctl on a cluster machine",
        "sign": "unit signing was deprecated in fleet and is not supported",
    ]

    /// Commands that do not take the global flags (so no environment flags are added to them).
    static let withoutGlobals: Set<String> = ["help", "completion", "version"]

    /// The environment variable of a global flag: `FLEETCTL_` + upper case, `-` → `_`.
    public static func environmentName(_ flag: String) -> String {
        "FLEETCTL_" + flag.uppercased().replacing("-", with: "_")
    }

    /// The argv (without the program name) to parse.
    public static func rewrite(_ arguments: [String], environment: [String: String]) throws(CLIError) -> [String] {
        if arguments.first == "-v" { return ["version"] + arguments.dropFirst() }
        var args = arguments
        let end = args.firstIndex(of: "--") ?? args.count
        var given = Set<String>()
        for token in args[..<end] where token.hasPrefix("--") {
            let name = String(token.dropFirst(2).prefix { $0 != "=" })
            given.insert(name)
            if let reason = rejectedFlags[name] {
                if name == "driver", token.lowercased() == "--driver=api" { continue }
                throw .usage("flag --\(name) is not supported: \(reason)")
            }
        }
        // `--driver=API` is the only driver and is accepted as a no-op.
        args.removeAll { $0.lowercased() == "--driver=api" }
        for (flag, reason) in rejectedFlags.sorted(by: { $0.key < $1.key }) {
            let variable = environmentName(flag)
            guard let value = environment[variable], !value.isEmpty else { continue }
            if flag == "driver" && value.lowercased() == "api" { continue }
            if flag == "experimental-api" { continue }  // fleet's default is true; nothing to refuse
            throw .usage("\(variable) is set, but --\(flag) is not supported: \(reason)")
        }
        guard let index = commandIndex(args) else { return args }
        args[index] = try expand(args[index])
        if args[index] == "help", index + 1 < args.count, !args[index + 1].hasPrefix("-") {
            args[index + 1] = try expand(args[index + 1])
        }
        guard !withoutGlobals.contains(args[index]) else { return args }
        var fromEnvironment: [String] = []
        for (flag, takesValue) in globalFlags where !given.contains(flag) {
            guard let value = environment[environmentName(flag)], !value.isEmpty else { continue }
            if takesValue {
                fromEnvironment.append("--\(flag)=\(value)")
            } else if try parseBool(value, variable: environmentName(flag)) {
                fromEnvironment.append("--\(flag)")
            }
        }
        // Flags given before the command (`fleetctl --endpoint X list-units`) belong to it.
        return [args[index]] + args[..<index] + fromEnvironment + args[(index + 1)...]
    }

    /// A command name or its unique prefix, expanded; unknown or ambiguous names are usage errors.
    public static func expand(_ word: String) throws(CLIError) -> String {
        if commands.contains(word) { return word }
        let matches = commands.filter { $0.hasPrefix(word) }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty {
            throw .usage("unknown command \"\(word)\" for fleetctl; run 'fleetctl help' for the list of commands")
        }
        throw .usage("ambiguous command \"\(word)\": could be \(matches.joined(separator: ", "))")
    }

    /// Where the command name stands: the first word that is not a flag or a global flag's value.
    static func commandIndex(_ args: [String]) -> Int? {
        var i = 0
        while i < args.count {
            let token = args[i]
            if token == "--" { return nil }
            if token.hasPrefix("-") {
                let name = String(token.drop { $0 == "-" }.prefix { $0 != "=" })
                let takesValue = globalFlags.first { $0.flag == name }?.takesValue ?? false
                i += (takesValue && !token.contains("=")) ? 2 : 1
                continue
            }
            return i
        }
        return nil
    }

    /// Go's `strconv.ParseBool` words, as fleet read boolean variables.
    static func parseBool(_ value: String, variable: String) throws(CLIError) -> Bool {
        switch value {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw .usage("\(variable)=\(value) is not a boolean; use true or false")
        }
    }
}
