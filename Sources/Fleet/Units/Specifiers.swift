/// systemd-style `%` specifiers in `[X-Fleet]` values.
///
/// fleet expanded only `%n %N %p %i` (by repeated string replacement, so `%%` did not work and an
/// expansion could be re-expanded). Here expansion is one left-to-right pass: `%%` is a literal `%`,
/// unknown specifiers are kept verbatim (as fleet did), and `%m` (machine ID) and `%H` (hostname)
/// are supported once the machine is known — the scheduler evaluates such values per candidate
/// machine (fleet #1364 asked for this).
public enum Specifiers {
    /// Expands the specifiers of `text` for unit `unit`.
    ///
    /// - `%n` full unit name, `%N` name without suffix, `%p` prefix, `%i` instance ("" if none),
    /// - `%m` machine ID and `%H` hostname when given (kept verbatim when nil),
    /// - `%%` a literal `%`; any other `%x` is kept verbatim.
    public static func expand(_ text: String, unit: UnitName, machineID: String? = nil, hostname: String? = nil)
        -> String
    {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        var out = ""
        var iterator = text.makeIterator()
        while let ch = iterator.next() {
            guard ch == "%" else {
                out.append(ch)
                continue
            }
            guard let spec = iterator.next() else {
                out.append("%")
                break
            }
            switch spec {
            case "n": out += unit.rawValue
            case "N": out += unit.nameWithoutSuffix
            case "p": out += unit.prefix
            case "i": out += unit.instance ?? ""
            case "%": out.append("%")
            case "m":
                if let machineID { out += machineID } else { out += "%m" }
            case "H":
                if let hostname { out += hostname } else { out += "%H" }
            default:
                out.append("%")
                out.append(spec)
            }
        }
        return out
    }

    /// True when `text` uses `%m` or `%H`, so its meaning depends on the machine it is evaluated on.
    public static func referencesMachine(_ text: String) -> Bool {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return false }
        var iterator = text.makeIterator()
        while let ch = iterator.next() {
            guard ch == "%" else { continue }
            guard let spec = iterator.next() else { return false }
            if spec == "m" || spec == "H" { return true }
        }
        return false
    }
}
