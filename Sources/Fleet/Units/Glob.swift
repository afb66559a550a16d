/// Why a glob pattern was refused.
public struct GlobError: Error, Hashable, Sendable, CustomStringConvertible {
    public let pattern: String
    public let problem: String
    public var description: String { "invalid glob \"\(pattern)\": \(problem)" }
}

/// A compiled shell glob over unit names: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`, and `\` escapes.
///
/// fleet matched `Conflicts` and `Replaces` with Go's `path.Match`, silently treating a malformed
/// pattern as "no match"; here a malformed pattern is an error at submit time instead. Unit names are
/// ASCII, so matching is on bytes. Literal patterns (the common case, e.g. `Conflicts=db.service`) are
/// compared directly.
public struct Glob: Hashable, Sendable, CustomStringConvertible {
    private enum Token: Hashable, Sendable {
        case literal(UInt8)
        case any  // ?
        case star  // *
        case set(ranges: [ClosedRange<UInt8>], negated: Bool)
    }

    /// The pattern as written.
    public let pattern: String
    private let tokens: [Token]
    private let literal: [UInt8]?

    /// Compiles `pattern`; throws when a `[` class is unterminated or empty, or the pattern ends in `\`.
    public init(_ pattern: String) throws(GlobError) {
        self.pattern = pattern
        let bytes = Array(pattern.utf8)
        var tokens: [Token] = []
        var i = 0
        var isLiteral = true
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "*"):
                isLiteral = false
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case UInt8(ascii: "?"):
                isLiteral = false
                tokens.append(.any)
                i += 1
            case UInt8(ascii: "\\"):
                guard i + 1 < bytes.count else { throw GlobError(pattern: pattern, problem: "trailing backslash") }
                tokens.append(.literal(bytes[i + 1]))
                i += 2
            case UInt8(ascii: "["):
                isLiteral = false
                var j = i + 1
                var negated = false
                if j < bytes.count, bytes[j] == UInt8(ascii: "!") || bytes[j] == UInt8(ascii: "^") {
                    negated = true
                    j += 1
                }
                var ranges: [ClosedRange<UInt8>] = []
                var closed = false
                while j < bytes.count {
                    var lo = bytes[j]
                    if lo == UInt8(ascii: "]") {
                        closed = true
                        j += 1
                        break
                    }
                    if lo == UInt8(ascii: "\\") {
                        guard j + 1 < bytes.count else { break }
                        j += 1
                        lo = bytes[j]
                    }
                    var hi = lo
                    if j + 2 < bytes.count, bytes[j + 1] == UInt8(ascii: "-"), bytes[j + 2] != UInt8(ascii: "]") {
                        hi = bytes[j + 2]
                        if hi == UInt8(ascii: "\\"), j + 3 < bytes.count {
                            hi = bytes[j + 3]
                            j += 1
                        }
                        j += 2
                        guard lo <= hi else {
                            let range = "\(Character(UnicodeScalar(lo)))-\(Character(UnicodeScalar(hi)))"
                            throw GlobError(pattern: pattern, problem: "range \(range) is reversed")
                        }
                    }
                    ranges.append(lo...hi)
                    j += 1
                }
                guard closed else { throw GlobError(pattern: pattern, problem: "unterminated \"[\"") }
                guard !ranges.isEmpty else { throw GlobError(pattern: pattern, problem: "empty character class") }
                tokens.append(.set(ranges: ranges, negated: negated))
                i = j
            default:
                tokens.append(.literal(c))
                i += 1
            }
        }
        self.tokens = tokens
        if isLiteral {
            self.literal = tokens.map { if case .literal(let b) = $0 { return b } else { return 0 } }
        } else {
            self.literal = nil
        }
    }

    /// True when the pattern has no wildcards (it then matches exactly one name).
    public var isLiteral: Bool { literal != nil }

    /// Whether `name` matches the whole pattern.
    public func matches(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { matches(bytes: $0) }
    }

    /// Whether the UTF-8 `bytes` match the whole pattern.
    public func matches(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if let literal {
            return literal.count == bytes.count && literal.elementsEqual(bytes)
        }
        // Iterative matcher with single-star backtracking (linear in practice).
        var t = 0
        var n = 0
        var starT = -1
        var starN = 0
        while n < bytes.count {
            if t < tokens.count {
                switch tokens[t] {
                case .star:
                    starT = t
                    starN = n
                    t += 1
                    continue
                case .any:
                    t += 1
                    n += 1
                    continue
                case .literal(let b):
                    if b == bytes[n] {
                        t += 1
                        n += 1
                        continue
                    }
                case .set(let ranges, let negated):
                    let hit = ranges.contains { $0.contains(bytes[n]) }
                    if hit != negated {
                        t += 1
                        n += 1
                        continue
                    }
                }
            }
            guard starT >= 0 else { return false }
            t = starT + 1
            starN += 1
            n = starN
        }
        while t < tokens.count, tokens[t] == .star { t += 1 }
        return t == tokens.count
    }

    public var description: String { pattern }
}
