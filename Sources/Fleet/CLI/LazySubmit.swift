/// fleet's lazy submit, used by `submit`, `load` and `start`: each argument names a unit that is
/// taken from the registry if it is there, else read from the local file the argument points to,
/// else — for an instance `foo@x.service` — copied from the template `foo@.service` in the registry
/// or next to the argument on disk. Instances are created client-side as full copies of the
/// template, as fleet's API does no template expansion.
///
/// Every argument is resolved before anything is written, so a typo or a malformed file in the
/// fifth argument leaves the first four unsubmitted instead of half-applied. A write the API refuses
/// does not stop the others (they run concurrently); the first refusal in argument order is thrown
/// after all have been tried.
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
        /// Create (or, with --replace, overwrite: `replacing`) the unit with these options.
        case create(APIUnit, source: String, replacing: Bool)
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
    ///
    /// The lookups, then the writes, run concurrently (``BoundedConcurrency``): 1,000 arguments cost
    /// about 1,000 / 32 round trips of each instead of 2,000 in a row. `desiredState` (from `load`
    /// and `start`) is the desired state a unit this call creates is written with, saving the second
    /// request fleet's fleetctl made to change it right after creating the unit as `inactive`; a
    /// replaced unit keeps its stored desired state.
    public func ensureSubmitted(_ arguments: [String], desiredState: String? = nil) async throws(CLIError)
        -> [Submitted]
    {
        var requests: [(argument: String, name: UnitName)] = []
        var seen = Set<String>()
        for argument in arguments {
            let name = try Self.unitName(for: argument)
            guard seen.insert(name.rawValue).inserted else { continue }
            requests.append((argument, name))
        }
        // Many arguments: one listing of the registry's units answers every lookup, instead of one
        // GET per argument (1,000 GETs through the API and the store for `start *.service`).
        var known: [String: APIUnit]?
        if requests.count >= Self.listingThreshold {
            let listed = try await context.call("listing units") { () async throws(FleetAPIError) in
                try await context.api.units()
            }
            known = Dictionary(listed.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        // Every plan is made before anything is written; the first failure in argument order wins.
        let planned = await BoundedConcurrency.map(requests) { [known] request -> Result<Plan, CLIError> in
            do throws(CLIError) {
                return .success(try await plan(argument: request.argument, name: request.name, known: known))
            } catch {
                return .failure(error)
            }
        }
        var plans: [Plan] = []
        for result in planned { plans.append(try result.get()) }

        let written = await BoundedConcurrency.map(plans) { plan -> Result<Submitted, CLIError> in
            switch plan {
            case .existing(let unit): return .success(Submitted(unit: unit, created: false))
            case .create(var unit, _, let replacing):
                if let desiredState, !replacing { unit.desiredState = desiredState }
                do throws(CLIError) {
                    try await context.call("submitting unit \(unit.name)") { () async throws(FleetAPIError) in
                        try await context.api.createUnit(unit)
                    }
                } catch { return .failure(error) }
                return .success(Submitted(unit: unit, created: true))
            }
        }
        var units: [Submitted] = []
        for result in written { units.append(try result.get()) }
        return units
    }

    /// From this many distinct arguments on, the units are looked up in one listing rather than one
    /// GET each: below it, per-unit GETs cost less than listing a large registry.
    static let listingThreshold = 16

    /// `known`: the registry's units from one listing (nil: look each one up with a GET).
    func plan(argument: String, name: UnitName, known: [String: APIUnit]? = nil) async throws(CLIError) -> Plan {
        let existing = try await lookUp(name.rawValue, known: known, what: "unit")
        let local = try localFile(argument: argument, name: name)
        if let existing {
            guard let local, let existingHash = existing.unitHash, local.file.hash != existingHash else {
                return .existing(existing)
            }
            if replace {
                let unit = APIUnit(name: name.rawValue, options: local.file.apiOptions,
                                   desiredState: existing.desiredState ?? "inactive")
                return .create(unit, source: local.path, replacing: true)
            }
            context.console.err(
                "WARNING: Unit \(name) in registry differs from local unit file \(local.path). Add --replace to override.\n"
            )
            return .existing(existing)
        }
        if let local {
            return .create(APIUnit(name: name.rawValue, options: local.file.apiOptions, desiredState: "inactive"),
                           source: local.path, replacing: false)
        }
        if let template = name.template {
            if let stored = try await lookUp(template.rawValue, known: known, what: "template") {
                return .create(APIUnit(name: name.rawValue, options: stored.options, desiredState: "inactive"),
                               source: template.rawValue, replacing: false)
            }
            let path = Self.sibling(of: argument, named: template.rawValue)
            if let text = try context.readFile(path) {
                let file = try Self.parse(text, path: path)
                return .create(APIUnit(name: name.rawValue, options: file.apiOptions, desiredState: "inactive"),
                               source: path, replacing: false)
            }
            throw .templateNotFound(instance: name.rawValue, template: template.rawValue)
        }
        throw .unitFileNotFound(name: name.rawValue, path: argument, reason: "no such file")
    }

    /// A unit of the registry by name: from the listing when there is one, else one GET.
    func lookUp(_ name: String, known: [String: APIUnit]?, what: String) async throws(CLIError) -> APIUnit? {
        if let known { return known[name] }
        return try await context.call("looking up \(what) \(name)") { () async throws(FleetAPIError) in
            try await context.api.unit(name)
        }
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
