/// Why a unit name was refused. Messages name the offending name and the rule, so a user can fix it.
public enum UnitNameError: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(name: String, length: Int)
    case missingSuffix(name: String)
    case invalidSuffix(name: String, suffix: String)
    case invalidTemplateSuffix(name: String, suffix: String)
    case invalidCharacter(name: String, character: Character)
    case emptyPrefix(name: String)
    case multipleAt(name: String)
    case notATemplate(name: String)

    public var description: String {
        switch self {
        case .empty:
            return "unit name is empty"
        case .tooLong(let name, let length):
            return "unit name \"\(name.prefix(40))…\" is \(length) characters long; at most \(UnitName.maxLength) are allowed"
        case .missingSuffix(let name):
            return "unit name \"\(name)\" has no type suffix; expected e.g. \"\(name).service\""
        case .invalidSuffix(let name, let suffix):
            return "unit name \"\(name)\" has unknown type \".\(suffix)\"; valid types: "
                + UnitName.validSuffixes.sorted().joined(separator: ", ")
        case .invalidTemplateSuffix(let name, let suffix):
            return "unit name \"\(name)\": templates and instances cannot be of type \".\(suffix)\"; valid types: "
                + UnitName.templateSuffixes.sorted().joined(separator: ", ")
        case .invalidCharacter(let name, let character):
            return "unit name \"\(name)\" contains \"\(character)\"; allowed are letters, digits and : _ . @ - \\"
        case .emptyPrefix(let name):
            return "unit name \"\(name)\" must have a name before \"@\" or the type suffix"
        case .multipleAt(let name):
            return "unit name \"\(name)\" contains more than one \"@\""
        case .notATemplate(let name):
            return "unit \"\(name)\" is not a template; templates are named like \"name@.service\""
        }
    }
}

/// A validated systemd unit name as fleet accepts it: `name.suffix`, template `name@.suffix`,
/// or instance `name@instance.suffix`.
///
/// Validation follows fleet's `api.ValidateName` rules (length ≤ 256, a known suffix, a restricted
/// suffix set for templates, `[A-Za-z0-9:_.@\-\\]` before the suffix, no leading `@`) and additionally
/// refuses a second `@`, which systemd would never load. The pieces (``prefix``, ``instance``,
/// ``nameWithoutSuffix``) feed the `%p`, `%i`, `%N` specifiers.
public struct UnitName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Longest accepted name, as in fleet.
    public static let maxLength = 256
    /// Unit types fleet accepts.
    public static let validSuffixes: Set<String> = [
        "automount", "busname", "device", "mount", "path", "scope", "service", "slice", "snapshot",
        "socket", "swap", "target", "timer",
    ]
    /// Unit types that may be templates or instances.
    public static let templateSuffixes: Set<String> = ["path", "service", "socket", "target", "timer"]

    /// The full name, e.g. `web@1.service`.
    public let rawValue: String
    /// The type suffix without the dot, e.g. `service`.
    public let suffix: String
    /// Everything before the last dot (`%N`), e.g. `web@1`.
    public let nameWithoutSuffix: String
    /// The part before `@` (or the whole name without suffix) (`%p`), e.g. `web`.
    public let prefix: String
    /// nil for a plain unit; "" for a template; the instance string for an instance (`%i`).
    public let instance: String?

    /// Validates `name`; throws a ``UnitNameError`` saying which rule failed.
    public init(_ name: String) throws(UnitNameError) {
        guard !name.isEmpty else { throw .empty }
        let count = name.count
        guard count <= Self.maxLength else { throw .tooLong(name: name, length: count) }
        guard let dot = name.lastIndex(of: ".") else { throw .missingSuffix(name: name) }
        let base = String(name[..<dot])
        let suffix = String(name[name.index(after: dot)...])
        guard Self.validSuffixes.contains(suffix) else {
            if suffix.isEmpty { throw .missingSuffix(name: name) }
            throw .invalidSuffix(name: name, suffix: suffix)
        }
        for ch in base where !Self.isAllowed(ch) {
            throw .invalidCharacter(name: name, character: ch)
        }
        guard !base.isEmpty, !base.hasPrefix("@") else { throw .emptyPrefix(name: name) }
        let ats = base.filter { $0 == "@" }.count
        if ats > 1 { throw .multipleAt(name: name) }
        if ats == 1 {
            guard Self.templateSuffixes.contains(suffix) else {
                throw .invalidTemplateSuffix(name: name, suffix: suffix)
            }
            let at = base.firstIndex(of: "@")!
            self.prefix = String(base[..<at])
            self.instance = String(base[base.index(after: at)...])
        } else {
            self.prefix = base
            self.instance = nil
        }
        self.rawValue = name
        self.suffix = suffix
        self.nameWithoutSuffix = base
    }

    /// True for `foo@.service`: stored like any unit but never activated.
    public var isTemplate: Bool { instance == "" }
    /// True for `foo@bar.service`.
    public var isInstance: Bool { instance.map { !$0.isEmpty } ?? false }

    /// For an instance, the template it is made from (`web@1.service` → `web@.service`).
    public var template: UnitName? {
        guard isInstance else { return nil }
        return try? UnitName("\(prefix)@.\(suffix)")
    }

    /// For a template (or instance), the instance named `instance` (`web@.service` + `2` → `web@2.service`).
    public func instantiated(_ instance: String) throws(UnitNameError) -> UnitName {
        guard self.instance != nil else { throw .notATemplate(name: rawValue) }
        return try UnitName("\(prefix)@\(instance).\(suffix)")
    }

    /// The name fleetctl would use for a command-line argument: the basename of a path, with `.service`
    /// appended unless it already ends in a valid unit type (`fleetctl start foo` means `foo.service`).
    ///
    /// fleet only recognised service/socket/timer/path/device/mount/automount, turning `x.target` into
    /// `x.target.service`; this helper recognises every type fleet accepts.
    public static func defaultingSuffix(_ argument: String) -> String {
        let base = argument.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? argument
        if let dot = base.lastIndex(of: "."), validSuffixes.contains(String(base[base.index(after: dot)...])) {
            return base
        }
        return base + ".service"
    }

    public var description: String { rawValue }

    public static func < (lhs: UnitName, rhs: UnitName) -> Bool { lhs.rawValue < rhs.rawValue }

    private static func isAllowed(_ ch: Character) -> Bool {
        guard ch.isASCII, let a = ch.asciiValue else { return false }
        switch a {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return ":_.@-\\".utf8.contains(a)
        }
    }
}
