#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KV

/// Value syntaxes fleet inherited from Go; shared by fleet.conf, `FLEET_*`, flags and cloud-config so a
/// value is accepted or refused the same way wherever it is written.
public enum FleetValues {
    /// Go's `time.ParseDuration`: a sequence of decimal numbers, each with a unit
    /// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `30s`, `1m30s`, `1.5h`; a bare `0` is zero.
    public static func parseDuration(_ text: String) -> Duration? {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("-") || s.hasPrefix("+") {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        if s == "0" { return .zero }
        if s.isEmpty { return nil }
        var totalNanos: Double = 0
        while !s.isEmpty {
            let number = s.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                let value = Double(number.hasPrefix(".") ? "0" + number : String(number))
            else { return nil }
            s = s.dropFirst(number.count)
            let unit = s.prefix(while: { !($0.isASCII && ($0.isNumber || $0 == ".")) })
            s = s.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            totalNanos += value * scale
        }
        guard totalNanos < 9.2e18 else { return nil }
        let nanos = Int64(totalNanos.rounded())
        return .nanoseconds(negative ? -nanos : nanos)
    }

    /// Go's `strconv.ParseBool`.
    public static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }

    /// fleet's metadata syntax: `k=v[,k=v…]`, optionally wrapped in `"` or `'`, whitespace around `=`
    /// and `,` ignored, the last duplicate wins. Returns nil (not a partial map) when a pair is malformed.
    public static func parseMetadata(_ text: String) -> [String: String]? {
        var s = trimmed(text)
        if s.count >= 2, let first = s.first, first == "\"" || first == "'", s.last == first {
            s = String(s.dropFirst().dropLast())
        }
        var result: [String: String] = [:]
        for pair in s.split(separator: ",") {
            let item = trimmed(String(pair))
            if item.isEmpty { continue }
            guard let eq = item.firstIndex(of: "=") else { return nil }
            let key = trimmed(String(item[..<eq]))
            let value = trimmed(String(item[item.index(after: eq)...]))
            guard !key.isEmpty else { return nil }
            result[key] = value
        }
        return result
    }

    /// fleet's string-list syntax: comma-separated, and tolerant of the `["a","b"]` form fleet.conf files
    /// use (brackets, quotes and spaces around items are dropped).
    public static func parseList(_ text: String) -> [String] {
        text.split(separator: ",").map { item in
            var s = Substring(item)
            while let c = s.first, c == " " || c == "[" || c == "\"" || c == "'" || c == "\t" { s = s.dropFirst() }
            while let c = s.last, c == " " || c == "]" || c == "\"" || c == "'" || c == "\t" { s = s.dropLast() }
            return String(s)
        }.filter { !$0.isEmpty }
    }

    /// True for `http://host[:port][/path]` and `https://…`, the endpoints fleet's etcd client dials.
    public static func isEndpointURL(_ text: String) -> Bool {
        guard let schemeEnd = text.range(of: "://") else { return false }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" || scheme == "unix" else { return false }
        let rest = text[schemeEnd.upperBound...]
        let authority = rest.prefix(while: { $0 != "/" })
        if authority.isEmpty && scheme != "unix" { return false }
        return !text.contains(" ")
    }

    /// True for an IPv4 or IPv6 literal.
    public static func isIPAddress(_ text: String) -> Bool { HTTPEndpoint.isIPAddress(text) }

    /// Go's `%v` of a float64 for the values fleet prints: `2` for 2.0, `2.5` for 2.5.
    public static func formatFloat(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func trimmed(_ text: String) -> String {
        var s = Substring(text)
        while let c = s.first, c == " " || c == "\t" || c == "\r" || c == "\n" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" || c == "\n" { s = s.dropLast() }
        return String(s)
    }
}
