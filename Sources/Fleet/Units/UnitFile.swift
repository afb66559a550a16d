/// One `Name=Value` line (or continued lines) of a unit file, in a section.
///
/// `value` is kept as fleet and go-systemd keep it — trimmed at both ends, with continuation lines
/// joined by `"\n"` and their trailing backslashes retained — because the canonical serialisation
/// and therefore the unit hash are computed from it. ``logicalValue`` is what systemd itself sees.
/// Encodes as the API's `{"section","name","value"}`; the source line is not part of the identity.
public struct UnitOption: Hashable, Sendable, Codable, CustomStringConvertible {
    public var section: String
    public var name: String
    public var value: String
    /// 1-based line of the option in the text it was parsed from; nil when built from API options.
    public var line: Int?

    public init(section: String, name: String, value: String, line: Int? = nil) {
        self.section = section
        self.name = name
        self.value = value
        self.line = line
    }

    /// The value as systemd reads it: each backslash-newline continuation becomes one space.
    public var logicalValue: String {
        guard value.contains("\n") else { return value }
        var v = value
        if v.hasSuffix("\\\n") { v.removeLast(2) }
        return v.replacing("\\\n", with: " ").trimmingWhitespace()
    }

    public var description: String { "[\(section)] \(name)=\(value)" }

    public static func == (lhs: UnitOption, rhs: UnitOption) -> Bool {
        lhs.section == rhs.section && lhs.name == rhs.name && lhs.value == rhs.value
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(section)
        hasher.combine(name)
        hasher.combine(value)
    }

    private enum CodingKeys: String, CodingKey { case section, name, value }
}

/// Why a unit file was refused. Each case names the line and the problem; nothing is half-accepted.
public enum UnitFileError: Error, Hashable, Sendable, CustomStringConvertible {
    case optionOutsideSection(line: Int, text: String)
    case invalidSectionHeader(line: Int, text: String)
    case missingEquals(line: Int, text: String)
    case emptyOptionName(line: Int)
    case invalidOptionName(line: Int, name: String)
    case nulByte(line: Int)
    case emptyField(String)
    case invalidOption(String)

    /// The 1-based line the problem is on, when it has one.
    public var line: Int? {
        switch self {
        case .optionOutsideSection(let l, _), .invalidSectionHeader(let l, _), .missingEquals(let l, _),
            .emptyOptionName(let l), .invalidOptionName(let l, _), .nulByte(let l):
            return l
        case .emptyField, .invalidOption: return nil
        }
    }

    public var description: String {
        switch self {
        case .optionOutsideSection(let line, let text):
            return "line \(line): \"\(text)\" is outside any section; add a section header such as [Unit] above it"
        case .invalidSectionHeader(let line, let text):
            return "line \(line): invalid section header \"\(text)\"; expected [Name] alone on the line"
        case .missingEquals(let line, let text):
            return "line \(line): \"\(text)\" is not an assignment; expected Name=Value"
        case .emptyOptionName(let line):
            return "line \(line): option has no name before \"=\""
        case .invalidOptionName(let line, let name):
            return "line \(line): option name \"\(name)\" contains whitespace or brackets"
        case .nulByte(let line):
            return "line \(line): contains a NUL byte"
        case .emptyField(let what):
            return "unit option has an empty \(what)"
        case .invalidOption(let problem):
            return problem
        }
    }
}

/// A systemd unit file: its options in order, and the original text when it was parsed from one.
///
/// Syntax is systemd's INI dialect: `[Section]` headers, `Name=Value` assignments (a name may repeat;
/// sections may repeat and are merged), whole-line comments starting with `#` or `;`, lines continued
/// with a trailing `\`, CRLF line ends. Quotes are not interpreted here: systemd interprets them per
/// directive, and `[X-Fleet]` values are split by ``XFleetOptions``.
///
/// fleet stores options, not text, and `fleetctl cat` re-serialises them; both forms are kept:
/// ``originalText`` (what the user wrote) and ``serialized`` (the canonical form, whose SHA-1 is
/// ``hash`` and matches fleet's hash for the same options).
public struct UnitFile: Hashable, Sendable {
    /// Options in file order.
    public let options: [UnitOption]
    /// The text this unit was parsed from; nil when it was built from options (API, registry).
    public let originalText: String?

    /// Builds a unit from options (e.g. an API `PUT`); the original text is unknown.
    public init(options: [UnitOption]) throws(UnitFileError) {
        // Options must serialise to a file that parses back to the same options.
        for option in options {
            if option.section.isEmpty { throw .emptyField("section") }
            if option.name.isEmpty { throw .emptyField("name") }
            if option.section.contains(where: { $0 == "[" || $0 == "]" || $0.isNewline })
                || option.section.trimmingWhitespace() != option.section
            {
                throw .invalidOption(
                    "unit option section \"\(option.section)\" may not contain brackets, newlines or edge spaces")
            }
            if option.name.contains(where: { $0.isWhitespace || $0 == "=" || $0 == "[" || $0 == "]" })
                || option.name.hasPrefix("#") || option.name.hasPrefix(";")
            {
                throw .invalidOption("unit option name \"\(option.name)\" may not contain whitespace, \"=\" or brackets")
            }
            if option.value.contains("\0") { throw .invalidOption("unit option \(option.name) contains a NUL byte") }
            var previous: Character = " "
            for ch in option.value {
                if ch.isNewline && previous != "\\" {
                    throw .invalidOption(
                        "unit option \(option.name) has a line break not preceded by a backslash continuation")
                }
                previous = ch
            }
        }
        self.options = options
        self.originalText = nil
    }

    /// Parses unit-file text; throws ``UnitFileError`` naming the first bad line.
    public init(parsing text: String) throws(UnitFileError) {
        self.options = try UnitFileParser.parse(text)
        self.originalText = text
    }

    /// The canonical serialisation fleet stores, hashes and prints with `fleetctl cat`: sections in
    /// order of first appearance, each `[Section]` followed by its `Name=Value` lines, one blank line
    /// between sections, and a final newline.
    public var serialized: String {
        var order: [String] = []
        var bySection: [String: [UnitOption]] = [:]
        for option in options {
            if bySection[option.section] == nil { order.append(option.section) }
            bySection[option.section, default: []].append(option)
        }
        var out = ""
        for (i, section) in order.enumerated() {
            out += "[\(section)]\n"
            for option in bySection[section]! {
                out += "\(option.name)=\(option.value)\n"
            }
            if i < order.count - 1 { out += "\n" }
        }
        return out
    }

    /// SHA-1 of ``serialized``: the unit's content address, compatible with fleet's.
    public var hash: UnitHash { UnitHash(of: serialized) }

    /// All values of `name` in `section`, in order (systemd lets most options repeat).
    public func values(section: String, name: String) -> [String] {
        options.lazy.filter { $0.section == section && $0.name == name }.map(\.value)
    }

    /// Options of one section, in order.
    public func options(in section: String) -> [UnitOption] {
        options.filter { $0.section == section }
    }

    /// Section names in order of first appearance.
    public var sections: [String] {
        var seen = Set<String>()
        return options.compactMap { seen.insert($0.section).inserted ? $0.section : nil }
    }

    /// Whether the unit has an `[Install]` section (the agent then also enables it).
    public var hasInstallSection: Bool { options.contains { $0.section == "Install" } }

    /// The `Description=` of `[Unit]`, if any (fleetctl's `desc` field).
    public var unitDescription: String? { values(section: "Unit", name: "Description").last }

    public static func == (lhs: UnitFile, rhs: UnitFile) -> Bool { lhs.options == rhs.options }
    public func hash(into hasher: inout Hasher) { hasher.combine(options) }
}

/// The line-oriented parser behind ``UnitFile/init(parsing:)``.
enum UnitFileParser {
    static func parse(_ text: String) throws(UnitFileError) -> [UnitOption] {
        var options: [UnitOption] = []
        var section: String?
        // A value being continued with trailing backslashes.
        var pending: (name: String, value: String, line: Int)?

        func finish(_ p: (name: String, value: String, line: Int), endedByBlankLine: Bool) {
            var v = p.value.trimmingWhitespace()
            // go-systemd keeps the newline after a continuation that ran into a blank line (or the
            // final newline);
            // do the same so the canonical text and hash agree with fleet's.
            if endedByBlankLine { v += "\n" }
            options.append(UnitOption(section: section!, name: p.name, value: v, line: p.line))
        }

        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.utf8.contains(0) { throw .nulByte(line: lineNumber) }
            let trimmed = line.trimmingWhitespace()

            if var p = pending {
                if trimmed.isEmpty {
                    // A blank line (or the end of the text) ends the continuation.
                    pending = nil
                    finish(p, endedByBlankLine: true)
                    continue
                }
                if trimmed.hasPrefix("#") || trimmed.hasPrefix(";") {
                    // systemd skips comment lines inside a continued value.
                    continue
                }
                p.value += "\n" + line.trimmingTrailingWhitespace()
                if line.trimmingTrailingWhitespace().hasSuffix("\\") {
                    pending = p
                } else {
                    pending = nil
                    finish(p, endedByBlankLine: false)
                }
                continue
            }

            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }

            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count >= 3 else {
                    throw .invalidSectionHeader(line: lineNumber, text: trimmed)
                }
                let name = trimmed.dropFirst().dropLast()
                guard !name.contains("["), !name.contains("]"), name.trimmingWhitespace() == name else {
                    throw .invalidSectionHeader(line: lineNumber, text: trimmed)
                }
                section = String(name)
                continue
            }

            guard section != nil else { throw .optionOutsideSection(line: lineNumber, text: trimmed) }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw .missingEquals(line: lineNumber, text: trimmed)
            }
            let name = trimmed[..<eq].trimmingWhitespace()
            guard !name.isEmpty else { throw .emptyOptionName(line: lineNumber) }
            guard !name.contains(where: { $0.isWhitespace || $0 == "[" || $0 == "]" }) else {
                throw .invalidOptionName(line: lineNumber, name: name)
            }
            let value = trimmed[trimmed.index(after: eq)...].trimmingWhitespace()
            if value.hasSuffix("\\") {
                pending = (name, value, lineNumber)
            } else {
                options.append(UnitOption(section: section!, name: name, value: value, line: lineNumber))
            }
        }
        if let p = pending { finish(p, endedByBlankLine: false) }
        return options
    }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (spaces, tabs, newlines).
    fileprivate func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }

    /// The text without trailing whitespace.
    fileprivate func trimmingTrailingWhitespace() -> String {
        guard let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[...last])
    }
}
