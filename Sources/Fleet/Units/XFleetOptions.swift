/// A note about an `[X-Fleet]` option that did not stop the unit from being accepted
/// (fleetctl printed these client-side): an unknown key, a deprecated name, an empty value.
public struct XFleetWarning: Hashable, Sendable, CustomStringConvertible {
    public let line: Int?
    public let message: String
    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// Why a unit's `[X-Fleet]` section was refused; the API answers 400 with ``description``.
///
/// The combination messages are fleet's own (scripts may match on them); the others are new in this
/// implementation, which refuses values fleet silently ignored (malformed metadata pairs, bad globs,
/// a non-boolean `Global`), so a unit never runs with half of its constraints.
public enum XFleetError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Two options that cannot be combined, e.g. MachineID with Conflicts.
    case incompatible(String, String)
    /// A MachineOf peer that the unit's own Conflicts or Replaces would keep away.
    case unresolvablePeer(peer: String, option: String, pattern: String)
    case unbalancedQuote(option: String, value: String, line: Int?)
    case invalidPeerName(value: String, line: Int?, reason: UnitNameError)
    case peerIsSelf(line: Int?)
    case invalidMetadata(value: String, line: Int?)
    case invalidGlob(option: String, line: Int?, error: GlobError)
    case invalidBoolean(option: String, value: String, line: Int?)
    case multipleMachineIDs(first: String, second: String, line: Int?)
    case unsupported(option: String, line: Int?, hint: String)

    public var description: String {
        func at(_ line: Int?) -> String { line.map { "line \($0): " } ?? "" }
        switch self {
        case .incompatible(let a, let b):
            return "\(a) cannot be used with \(b)"
        case .unresolvablePeer(let peer, let option, let pattern):
            return "unresolvable requirements: peer \"\(peer)\" matches \(option) \"\(pattern)\""
        case .unbalancedQuote(let option, let value, let line):
            return "\(at(line))\(option)=\(value) has an unbalanced quote"
        case .invalidPeerName(let value, let line, let reason):
            return "\(at(line))MachineOf=\(value) is not a valid unit name: \(reason)"
        case .peerIsSelf(let line):
            return "\(at(line))MachineOf names the unit itself"
        case .invalidMetadata(let value, let line):
            return "\(at(line))MachineMetadata value \"\(value)\" must be key=value with a non-empty key and value"
        case .invalidGlob(let option, let line, let error):
            return "\(at(line))\(option): \(error)"
        case .invalidBoolean(let option, let value, let line):
            return "\(at(line))\(option)=\(value) is not a boolean; use true/yes/1/on/t or false/no/0/off/f"
        case .multipleMachineIDs(let first, let second, let line):
            return "\(at(line))MachineID given twice with different values (\"\(first)\" and \"\(second)\")"
        case .unsupported(let option, let line, let hint):
            return "\(at(line))\(option) is not supported: \(hint)"
        }
    }
}

/// One `MachineMetadata` key with the values that satisfy it (any one of them).
public struct MetadataRequirement: Hashable, Sendable {
    public let key: String
    /// Sorted, without duplicates.
    public let values: [String]
}

/// The scheduling constraints of a unit, parsed and validated from its `[X-Fleet]` section.
///
/// Specifiers `%n %N %p %i` are expanded with the unit's own name (so a template's instances get their
/// own constraints, e.g. `Conflicts=%p@*.service`). Values using `%m`/`%H` depend on the machine:
/// such a unit has ``isMachineDependent`` set and the scheduler calls ``resolved(machineID:hostname:)``
/// per candidate. Values are split on whitespace; `"…"` or `'…'` quote a value containing spaces
/// (`MachineMetadata="a=1" "b=2"`).
public struct XFleetOptions: Hashable, Sendable {
    /// `MachineID`: the machine (full ID or 8-character short ID) the unit is pinned to.
    public private(set) var machineID: String?
    /// `MachineOf`: units that must all run on the chosen machine (no globs), sorted.
    public private(set) var machineOf: [String] = []
    /// `MachineMetadata`: every key must match one of its values; sorted by key.
    public private(set) var machineMetadata: [MetadataRequirement] = []
    /// `Conflicts`: globs of units that may not share a machine with this one (checked both ways).
    public private(set) var conflicts: [Glob] = []
    /// `Replaces`: globs of units this one displaces from the machine it takes.
    public private(set) var replaces: [Glob] = []
    /// `Global`: run on every machine matching the metadata; never scheduled by the engine.
    public private(set) var isGlobal = false
    /// Non-fatal notes (unknown keys, deprecated names).
    public private(set) var warnings: [XFleetWarning] = []
    /// Whether some value uses `%m` or `%H` and must be evaluated per machine. The constraint
    /// properties of such a unit were validated with a placeholder machine (ID of 32 zeros, hostname
    /// `localhost`) and only mean something after ``resolved(machineID:hostname:)``.
    public private(set) var isMachineDependent = false

    private let unitName: UnitName
    private let source: [UnitOption]

    /// Options of a unit without an `[X-Fleet]` section: runs anywhere.
    public init(unitName: UnitName) {
        self.unitName = unitName
        self.source = []
    }

    /// Parses and validates the `[X-Fleet]` section of `unit` named `name`.
    ///
    /// With `machineID` nil, `%m`/`%H` values are validated with a placeholder machine and
    /// ``isMachineDependent`` is set; the scheduler then resolves them per machine.
    public init(unit: UnitFile, name: UnitName, machineID: String? = nil, hostname: String? = nil)
        throws(XFleetError)
    {
        try self.init(source: unit.options(in: "X-Fleet"), name: name, machineID: machineID, hostname: hostname)
    }

    /// The options as they apply on one machine (expanding `%m` and `%H`); `self` if not machine-dependent.
    /// A nil hostname expands `%H` to "", which usually makes the unit ineligible there.
    public func resolved(machineID: String, hostname: String?) throws(XFleetError) -> XFleetOptions {
        guard isMachineDependent else { return self }
        return try XFleetOptions(source: source, name: unitName, machineID: machineID, hostname: hostname ?? "")
    }

    /// Whether a machine with this ID satisfies `MachineID` (full ID or fleet's 8-character short ID).
    public func acceptsMachineID(_ id: String) -> Bool {
        guard let machineID else { return true }
        return machineID == id || (machineID.count == 8 && id.hasPrefix(machineID))
    }

    /// Whether `metadata` satisfies every `MachineMetadata` key.
    public func acceptsMetadata(_ metadata: [String: String]) -> Bool {
        machineMetadata.allSatisfy { req in metadata[req.key].map { req.values.contains($0) } ?? false }
    }

    /// Whether this unit's `Conflicts` globs match `otherUnit` (never itself).
    public func conflicts(with otherUnit: String) -> Bool {
        otherUnit != unitName.rawValue && conflicts.contains { $0.matches(otherUnit) }
    }

    /// Whether this unit's `Replaces` globs match `otherUnit` (never itself).
    public func replaces(_ otherUnit: String) -> Bool {
        otherUnit != unitName.rawValue && replaces.contains { $0.matches(otherUnit) }
    }

    private static let canonicalNames: [String: (canonical: String, deprecated: Bool)] = [
        "MachineID": ("MachineID", false), "X-ConditionMachineID": ("MachineID", true),
        "MachineOf": ("MachineOf", false), "X-ConditionMachineOf": ("MachineOf", true),
        "MachineMetadata": ("MachineMetadata", false), "X-ConditionMachineMetadata": ("MachineMetadata", true),
        "Conflicts": ("Conflicts", false), "X-Conflicts": ("Conflicts", true),
        "Global": ("Global", false), "Replaces": ("Replaces", false),
    ]

    private init(source: [UnitOption], name: UnitName, machineID: String?, hostname: String?) throws(XFleetError) {
        self.unitName = name
        self.source = source
        let placeholderID = machineID ?? String(repeating: "0", count: 32)
        let placeholderHost = hostname ?? "localhost"
        var metadata: [String: Set<String>] = [:]
        var peers = Set<String>()

        for option in source {
            if option.name == "X-ConditionMachineBootID" {
                throw .unsupported(
                    option: option.name, line: option.line, hint: "it never worked in fleet; use MachineID")
            }
            guard let (canonical, deprecated) = Self.canonicalNames[option.name] else {
                warnings.append(XFleetWarning(
                    line: option.line, message: "unknown [X-Fleet] option \"\(option.name)\" is ignored"))
                continue
            }
            if deprecated {
                warnings.append(XFleetWarning(
                    line: option.line, message: "\(option.name) is deprecated; use \(canonical)"))
            }
            let logical = option.logicalValue
            if machineID == nil, Specifiers.referencesMachine(logical) { isMachineDependent = true }
            let expanded = Specifiers.expand(logical, unit: name, machineID: placeholderID, hostname: placeholderHost)
            guard let tokens = Self.split(expanded) else {
                throw .unbalancedQuote(option: option.name, value: option.value, line: option.line)
            }
            if tokens.isEmpty {
                warnings.append(XFleetWarning(line: option.line, message: "empty \(option.name)= is ignored"))
                continue
            }
            for token in tokens {
                switch canonical {
                case "MachineID":
                    if let existing = self.machineID, existing != token {
                        throw .multipleMachineIDs(first: existing, second: token, line: option.line)
                    }
                    self.machineID = token
                case "MachineOf":
                    let peer: UnitName
                    do { peer = try UnitName(token) } catch {
                        throw .invalidPeerName(value: token, line: option.line, reason: error)
                    }
                    if peer == name { throw .peerIsSelf(line: option.line) }
                    peers.insert(peer.rawValue)
                case "MachineMetadata":
                    guard let eq = token.firstIndex(of: "="), eq != token.startIndex,
                        token.index(after: eq) != token.endIndex
                    else { throw .invalidMetadata(value: token, line: option.line) }
                    metadata[String(token[..<eq]), default: []].insert(String(token[token.index(after: eq)...]))
                case "Conflicts", "Replaces":
                    let glob: Glob
                    do { glob = try Glob(token) } catch {
                        throw .invalidGlob(option: option.name, line: option.line, error: error)
                    }
                    if canonical == "Conflicts" {
                        if !conflicts.contains(glob) { conflicts.append(glob) }
                    } else if !replaces.contains(glob) {
                        replaces.append(glob)
                    }
                default:  // Global: the last value wins
                    switch token.lowercased() {
                    case "true", "yes", "1", "on", "t": isGlobal = true
                    case "false", "no", "0", "off", "f": isGlobal = false
                    default: throw .invalidBoolean(option: option.name, value: token, line: option.line)
                    }
                }
            }
        }
        machineOf = peers.sorted()
        machineMetadata = metadata.keys.sorted().map { MetadataRequirement(key: $0, values: metadata[$0]!.sorted()) }

        // Peers this unit would itself keep away can never be satisfied.
        for peer in machineOf {
            if let glob = conflicts.first(where: { $0.matches(peer) }) {
                throw .unresolvablePeer(peer: peer, option: "Conflicts", pattern: glob.pattern)
            }
            if let glob = replaces.first(where: { $0.matches(peer) }) {
                throw .unresolvablePeer(peer: peer, option: "Replaces", pattern: glob.pattern)
            }
        }
        // fleet's combination rules, checked in fleet's order.
        let pinned = self.machineID != nil
        if pinned && !machineOf.isEmpty { throw .incompatible("MachineID", "MachineOf") }
        if pinned && !conflicts.isEmpty { throw .incompatible("MachineID", "Conflicts") }
        if pinned && isGlobal { throw .incompatible("MachineID", "Global") }
        if pinned && !replaces.isEmpty { throw .incompatible("MachineID", "Replaces") }
        if isGlobal && !machineOf.isEmpty { throw .incompatible("Global", "MachineOf") }
        if !conflicts.isEmpty && !replaces.isEmpty { throw .incompatible("Conflicts", "Replaces") }
        if isGlobal && !replaces.isEmpty { throw .incompatible("Global", "Replaces") }
    }

    /// Splits a value on whitespace, honouring `"…"` and `'…'` quoting; nil when a quote is unbalanced.
    static func split(_ value: String) -> [String]? {
        var tokens: [String] = []
        var current = ""
        var inToken = false
        var quote: Character?
        for ch in value {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
                continue
            }
            if ch == "\"" || ch == "'" {
                quote = ch
                inToken = true
            } else if ch.isWhitespace {
                if inToken { tokens.append(current) }
                current = ""
                inToken = false
            } else {
                current.append(ch)
                inToken = true
            }
        }
        if quote != nil { return nil }
        if inToken { tokens.append(current) }
        return tokens.filter { !$0.isEmpty }
    }
}
