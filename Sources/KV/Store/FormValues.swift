/// URL-encoded form values with Go's `url.ParseQuery` and `strconv` rules, which decide etcd's
/// answers to malformed parameters.
struct FormValues {
    private(set) var values: [String: [String]] = [:]

    /// Parses `a=1&b=2` (`+` is a space, `%XX` escapes), appending to existing values. Returns the
    /// first error message in Go's wording (`invalid URL escape "%zz"`,
    /// `invalid semicolon separator in query`); well-formed pairs are still kept, as Go does.
    mutating func parse(_ query: String) -> String? {
        // Scanned as UTF-8 bytes: `&`, `=` and `;` are ASCII, so the indexes found are valid String
        // boundaries, and the byte scan avoids the Character (grapheme) machinery of
        // `split`/`firstIndex(of: Character)` that made up a tenth of a PUT's CPU.
        var err: String?
        let utf8 = query.utf8
        var start = utf8.startIndex
        while start < utf8.endIndex {
            let end = utf8[start...].firstIndex(of: UInt8(ascii: "&")) ?? utf8.endIndex
            if start != end, let e = add(query[start..<end]), err == nil { err = e }
            start = end == utf8.endIndex ? end : utf8.index(after: end)
        }
        return err
    }

    /// Adds one non-empty `name=value` pair; returns Go's error message for a malformed one.
    private mutating func add(_ pair: Substring) -> String? {
        if pair.utf8.contains(UInt8(ascii: ";")) { return "invalid semicolon separator in query" }
        let k: Substring, v: Substring
        if let eq = pair.utf8.firstIndex(of: UInt8(ascii: "=")) {
            k = pair[..<eq]
            v = pair[pair.utf8.index(after: eq)...]
        } else {
            k = pair
            v = ""
        }
        switch (Self.unescape(k), Self.unescape(v)) {
        case let (.success(key), .success(value)):
            values[key, default: []].append(value)
            return nil
        case let (.failure(e), _), let (_, .failure(e)):
            return e.message
        }
    }

    func has(_ key: String) -> Bool { values[key] != nil }
    func first(_ key: String) -> String? { values[key]?.first }

    func uint(_ key: String, orThrow e: StoreError) throws(StoreError) -> UInt64 {
        guard let s = first(key) else { return 0 }
        guard let v = Self.parseUInt(s) else { throw e }
        return v
    }

    func bool(_ key: String, orThrow e: StoreError) throws(StoreError) -> Bool {
        guard let s = first(key) else { return false }
        guard let v = Self.parseBool(s) else { throw e }
        return v
    }

    /// `strconv.ParseUint(s, 10, 64)`: decimal digits only, no sign, no overflow.
    static func parseUInt(_ s: String) -> UInt64? {
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(s)
    }

    /// `strconv.ParseBool`.
    static func parseBool(_ s: String) -> Bool? {
        switch s {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }

    struct EscapeError: Error {
        let message: String
    }

    /// `url.QueryUnescape`.
    static func unescape(_ s: Substring) -> Result<String, EscapeError> {
        // Most names and values (every PUT's value) have nothing to unescape: copy them whole.
        if !s.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) { return .success(String(s)) }
        let u = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        while i < u.count {
            switch u[i] {
            case UInt8(ascii: "%"):
                guard i + 2 < u.count, let h = hexValue(u[i + 1]), let l = hexValue(u[i + 2]) else {
                    let bad = u[i..<min(i + 3, u.count)]
                    return .failure(EscapeError(message: "invalid URL escape \"\(String(decoding: bad, as: UTF8.self))\""))
                }
                out.append(h << 4 | l)
                i += 3
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
                i += 1
            case let b:
                out.append(b)
                i += 1
            }
        }
        return .success(String(decoding: out, as: UTF8.self))
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}
