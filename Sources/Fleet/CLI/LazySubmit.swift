/// fleet's lazy submit, used by `submit`, `load` and `start`: each argument names a unit that is
/// taken from the registry if it is there, else read from the local file the argument points to,
/// else — for an instance `foo@x.service` — copied from the template `foo@.service` in the registry
/// or next to the argument on disk. Instances are created client-side as full copies of the
/// template, as fleet's API does no template expansion.
///
/// Every argument is resolved before anything is written, so a typo or a malformed file in the
/// fifth argument leaves the first four unsubmitted instead of half-applied.
public struct LazySubmit: Sendable {
    let context: FleetctlContext
    /// `--replace`: overwrite a registry unit whose options differ from the local file.
    let replace: Bool

    public init(context: FleetctlContext, replace: Bool) {
        self.context = context
        self.replace = replace
    }

    /// What to do for one argument.
    enum Plan: Sendable {
        /// Already in the registry; nothing to write.
        case existing(APIUnit)
        /// Create (or, with --replace, overwrite) the unit with these options.
        case create(APIUnit, source: String)
    }

    /// The unit name fleetctl uses for a command-line argument: its basename, with `.service` added
    /// when it has no unit type suffix; validated by fleet's naming rules.
    public static func unitName(for argument: String) throws(CLIError) -> UnitName {
        let mangled = UnitName.defaultingSuffix(argument)
        do { return try UnitName(mangled) } catch { throw .invalidUnitName(argument: argument, error) }
    }

    /// A unit after lazy submission, and whether this call created (or replaced) it.
    public struct Submitted: Sendable {
        public var unit: APIUnit
        public var created: Bool
    }

    /// Makes sure every argument's unit is in the registry; returns the units in argument order
    /// (duplicates once), as stored after submission.
    public func ensureSubmitted(_ arguments: [String]) async throws(CLIError) -> [Submitted] {
        var plans: [Plan] = []
        var seen = Set<String>()
        for argument in arguments {
            let name = try Self.unitName(for: argument)
            guard seen.insert(name.rawValue).inserted else { continue }
            plans.append(try await plan(argument: argument, name: name))
        }
        var units: [Submitted] = []
        for plan in plans {
            switch plan {
            case .existing(let unit): units.append(Submitted(unit: unit, created: false))
            case .create(let unit, _):
                try await context.call("submitting unit \(unit.name)") { () async throws(FleetAPIError) in
                    try await context.api.createUnit(unit)
                }
                units.append(Submitted(unit: unit, created: true))
            }
        }
        return units
    }

    func plan(argument: String, name: UnitName) async throws(CLIError) -> Plan {
        let existing = try await context.call("looking up unit \(name)") { () async throws(FleetAPIError) in
            try await context.api.unit(name.rawValue)
        }
        let local = try localFile(argument: argument, name: name)
        if let existing {
            guard let local, let existingHash = existing.unitHash, local.file.hash != existingHash else {
                return .existing(existing)
            }
            if replace {
                let unit = APIUnit(name: name.rawValue, options: local.file.apiOptions,
                                   desiredState: existing.desiredState ?? "inactive")
                return .create(unit, source: local.path)
            }
            context.console.err(
                "WARNING: Unit \(name) in registry differs from local unit file \(local.path). Add --replace to override.\n"
            )
            return .existing(existing)
        }
        if let local {
            return .create(APIUnit(name: name.rawValue, options: local.file.apiOptions, desiredState: "inactive"),
                           source: local.path)
        }
        if let template = name.template {
            if let stored = try await context.call("looking up template \(template)", { () async throws(FleetAPIError) in
                try await context.api.unit(template.rawValue)
            }) {
                return .create(APIUnit(name: name.rawValue, options: stored.options, desiredState: "inactive"),
                               source: template.rawValue)
            }
            let path = Self.sibling(of: argument, named: template.rawValue)
            if let text = try context.readFile(path) {
                let file = try Self.parse(text, path: path)
                return .create(APIUnit(name: name.rawValue, options: file.apiOptions, desiredState: "inactive"),
                               source: path)
            }
            throw .templateNotFound(instance: name.rawValue, template: template.rawValue)
        }
        throw .unitFileNotFound(name: name.rawValue, path: argument, reason: "no such file")
    }

    /// The local unit file for an argument: the path as given, or the same directory with the
    /// mangled name (`start web` finds `./web.service`).
    func localFile(argument: String, name: UnitName) throws(CLIError) -> (path: String, file: UnitFile)? {
        var candidates = [argument]
        let sibling = Self.sibling(of: argument, named: name.rawValue)
        if sibling != argument { candidates.append(sibling) }
        for path in candidates {
            if let text = try context.readFile(path) { return (path, try Self.parse(text, path: path)) }
        }
        return nil
    }

    static func parse(_ text: String, path: String) throws(CLIError) -> UnitFile {
        do throws(UnitFileError) {
            let file = try UnitFile(parsing: text)
            if file.options.isEmpty { throw UnitFileError.invalidOption("the file has no options") }
            return file
        } catch { throw .malformedUnitFile(path: path, error) }
    }

    /// `dir/of/argument/<name>`, or just `<name>` when the argument has no directory.
    static func sibling(of argument: String, named name: String) -> String {
        guard let slash = argument.lastIndex(of: "/") else { return name }
        return String(argument[...slash]) + name
    }
}
