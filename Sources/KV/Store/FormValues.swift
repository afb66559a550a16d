/// URL-encoded form values with Go's `url.ParseQuery` and `strconv` rules, which decide etcd's
/// answers to malformed parameters.
struct FormValues {
    private(set) var values: [String: [String]] = [:]

    /// Parses `a=1&b=2` (`+` is a space, `%XX` escapes), appending to existing values. Returns the
    /// first error message in Go's wording (`invalid URL escape "%zz"`,
    /// `invalid semicolon separator in query`); well-formed pairs are still kept, as Go does.
    mutating func parse(_ query: String) -> String? {
        // Scanned as contiguous UTF-8 bytes, each pair once: `&`, `=`, `;`, `%` and `+` are ASCII,
        // so the slices cut at them are whole UTF-8 sequences, and a name or value with no `%` or
        // `+` (every PUT's value, usually) is made into a String straight from its bytes.
        var query = query
        return query.withUTF8 { parse(bytes: $0) }
    }

    private mutating func parse(bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var err: String?
        var start = 0
        while start < bytes.count {
            var end = start, eq = -1, semicolon = false, escaped = false
            while end < bytes.count {
                let b = bytes[end]
                if b == UInt8(ascii: "&") { break }
                if b == UInt8(ascii: "=") && eq < 0 { eq = end }
                if b == UInt8(ascii: ";") { semicolon = true }
                if b == UInt8(ascii: "%") || b == UInt8(ascii: "+") { escaped = true }
                end += 1
            }
            if start != end, let e = add(bytes, start..<end, eq: eq, semicolon: semicolon, escaped: escaped), err == nil {
                err = e
            }
            start = end + 1
        }
        return err
    }

    /// Adds one non-empty `name=value` pair (`eq`: where its first `=` is, or -1); returns Go's
    /// error message for a malformed one.
    private mutating func add(_ bytes: UnsafeBufferPointer<UInt8>, _ pair: Range<Int>, eq: Int, semicolon: Bool,
                              escaped: Bool) -> String? {
        if semicolon { return "invalid semicolon separator in query" }
        let k = UnsafeBufferPointer(rebasing: bytes[pair.lowerBound..<(eq < 0 ? pair.upperBound : eq)])
        let v = eq < 0 ? UnsafeBufferPointer(start: nil, count: 0)
                       : UnsafeBufferPointer(rebasing: bytes[(eq + 1)..<pair.upperBound])
        func text(_ part: UnsafeBufferPointer<UInt8>) -> Result<String, EscapeError> {
            escaped ? Self.unescape(part) : .success(String(decoding: part, as: UTF8.self))
        }
        switch (text(k), text(v)) {
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

    /// `url.QueryUnescape` of UTF-8 bytes.
    static func unescape(_ u: UnsafeBufferPointer<UInt8>) -> Result<String, EscapeError> {
        // Most names and values (every PUT's value) have nothing to unescape: copy them whole.
        if !u.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) {
            return .success(String(decoding: u, as: UTF8.self))
        }
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
