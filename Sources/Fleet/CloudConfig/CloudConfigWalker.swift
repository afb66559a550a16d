import Yams

/// A value that passed the type checks, with the line it came from. Wrong-typed values never get here
/// (they are reported instead), so nothing downstream can mistake them for zero.
indirect enum CCValue: Equatable, Sendable {
    /// The scalar as written; for `!!binary` scalars the base64 text with `binary` set.
    case scalar(String, line: Int, binary: Bool)
    case list([CCValue], line: Int)
    case map([CCEntry], line: Int)
    /// A value of an ignored section (`.anything`), kept only for its line.
    case opaque(line: Int)

    var line: Int {
        switch self {
        case .scalar(_, let line, _), .list(_, let line), .map(_, let line), .opaque(let line): return line
        }
    }
    var text: String? {
        if case .scalar(let text, _, _) = self { return text }
        return nil
    }
    var isBinary: Bool {
        if case .scalar(_, _, true) = self { return true }
        return false
    }
    var entries: [CCEntry] {
        if case .map(let entries, _) = self { return entries }
        return []
    }
    var items: [CCValue] {
        if case .list(let items, _) = self { return items }
        return []
    }
    var strings: [String] { items.compactMap(\.text) }
    subscript(key: String) -> CCValue? { entries.first(where: { $0.key == key })?.value }
    func string(_ key: String) -> String? { self[key]?.text }
    /// Bool fields are stored as "true"/"false" by the walker.
    func bool(_ key: String) -> Bool { self[key]?.text == "true" }
}

/// One mapping entry; `key` is normalised (`-` → `_`).
struct CCEntry: Equatable, Sendable {
    var key: String
    var keyLine: Int
    var value: CCValue
}

/// Walks Yams nodes against `CloudConfigSchema`, collecting diagnostics and the checked values.
struct CloudConfigWalker {
    var diagnostics: [CloudConfigDiagnostic] = []

    mutating func error(_ line: Int, _ path: String, _ message: String) {
        diagnostics.append(CloudConfigDiagnostic(line: line, severity: .error, path: path, message: message))
    }
    mutating func warning(_ line: Int, _ path: String, _ message: String) {
        diagnostics.append(CloudConfigDiagnostic(line: line, severity: .warning, path: path, message: message))
    }
    mutating func info(_ line: Int, _ path: String, _ message: String) {
        diagnostics.append(CloudConfigDiagnostic(line: line, severity: .info, path: path, message: message))
    }

    static func line(of node: Node) -> Int { node.mark?.line ?? 1 }

    /// How a node looks in a "got …" message.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            let text = scalar.string
            if text.isEmpty { return "an empty value" }
            return text.count > 60 ? String(text.prefix(57)) + "..." : text
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .alias: return "an alias"
        }
    }

    static func tagName(_ node: Node) -> String { node.tag.rawValue }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return tagName(node) == Tag.Name.null.rawValue }
        return false
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// - Parameter keyLine: the line of the key holding this value; a wrong-typed list or mapping is
    ///   reported there (its own mark is on the next line, which reads oddly).
    mutating func walk(_ node: Node, _ type: CCType, path: String, keyLine: Int? = nil) -> CCValue? {
        let line = Self.line(of: node)
        if case .anything = type { return .opaque(line: line) }
        if Self.isNull(node) {
            warning(line, path, "has no value; ignored")
            return nil
        }
        switch (type, node) {
        case (.string(let check), .scalar(let scalar)):
            let binary = Self.tagName(node) == Tag.Name.binary.rawValue
            if !binary, let check, let expected = check(scalar.string) {
                error(line, path, "\(expected), got \(Self.describe(node))")
                return nil
            }
            return .scalar(scalar.string, line: line, binary: binary)
        case (.bool, .scalar):
            guard Self.tagName(node) == Tag.Name.bool.rawValue, let value = node.bool else { break }
            return .scalar(value ? "true" : "false", line: line, binary: false)
        case (.int, .scalar):
            guard Self.tagName(node) == Tag.Name.int.rawValue, let value = node.int else { break }
            return .scalar(String(value), line: line, binary: false)
        case (.float, .scalar):
            let tag = Self.tagName(node)
            if tag == Tag.Name.int.rawValue, let value = node.int {
                return .scalar(String(value), line: line, binary: false)
            }
            guard tag == Tag.Name.float.rawValue, let value = node.float, value.isFinite else { break }
            return .scalar(FleetValues.formatFloat(value), line: line, binary: false)
        case (.stringList, .sequence(let sequence)):
            var items: [CCValue] = []
            for (index, item) in sequence.enumerated() {
                let itemPath = "\(path)[\(index)]"
                guard case .scalar(let scalar) = item, !Self.isNull(item) else {
                    error(Self.line(of: item), itemPath, "expected a string, got \(Self.describe(item))")
                    continue
                }
                items.append(.scalar(scalar.string, line: Self.line(of: item), binary: false))
            }
            return .list(items, line: line)
        case (.list(let element), .sequence(let sequence)):
            var items: [CCValue] = []
            for (index, item) in sequence.enumerated() {
                if let value = walk(item, element, path: "\(path)[\(index)]") { items.append(value) }
            }
            return .list(items, line: line)
        case (.object(let fields), .mapping(let mapping)):
            return walkObject(mapping, fields, path: path, line: line)
        default:
            break
        }
        error(keyLine ?? line, path, "\(type.expectation), got \(Self.describe(node))")
        return nil
    }

    private mutating func walkObject(_ mapping: Node.Mapping, _ fields: [CCField], path: String, line: Int) -> CCValue {
        var entries: [CCEntry] = []
        var seen: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            let keyLine = Self.line(of: keyNode)
            guard case .scalar(let keyScalar) = keyNode else {
                error(keyLine, path, "keys must be plain words, got \(Self.describe(keyNode))")
                continue
            }
            let key = String(keyScalar.string.map { $0 == "-" ? "_" : $0 })
            let keyPath = Self.join(path, key)
            if let first = seen[key] {
                error(keyLine, keyPath, "duplicate key (first set on line \(first); '-' and '_' are the same in keys)")
                continue
            }
            seen[key] = keyLine
            if path == "coreos" && key == "write_files" {
                info(keyLine, keyPath, "write_files doesn't belong under coreos (this section is ignored; move it to the top level)")
                continue
            }
            guard let field = fields.first(where: { $0.name == key }) else {
                warning(keyLine, keyPath, "unrecognized key \"\(keyScalar.string)\"")
                continue
            }
            if let deprecation = field.deprecation { warning(keyLine, keyPath, "deprecated key (\(deprecation))") }
            if let value = walk(valueNode, field.type, path: keyPath, keyLine: keyLine) {
                entries.append(CCEntry(key: key, keyLine: keyLine, value: value))
            }
        }
        return .map(entries, line: line)
    }
}
