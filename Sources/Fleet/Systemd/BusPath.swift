/// D-Bus object paths of systemd units, and the escaping that maps unit names onto them.
///
/// systemd publishes each unit at `/org/freedesktop/systemd1/unit/<escaped name>`; signals such as
/// `PropertiesChanged` carry only that path, so the client must be able to map it back to the unit name
/// without a round trip. The rule is `sd_bus_path_encode`'s: every byte outside `[A-Za-z0-9]`, and a
/// leading digit, becomes `_xx` (lower-case hex); the empty string becomes `_`.
public enum BusPath {
    /// The Manager object.
    public static let manager = "/org/freedesktop/systemd1"
    /// The prefix under which units live.
    public static let unitPrefix = "/org/freedesktop/systemd1/unit"

    /// Escapes one path element (`fleet.service` → `fleet_2eservice`).
    public static func escape(_ element: String) -> String {
        let bytes = Array(element.utf8)
        if bytes.isEmpty { return "_" }
        var out = ""
        out.reserveCapacity(bytes.count * 2)
        for (index, byte) in bytes.enumerated() {
            let isAlpha = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            let isDigit = byte >= 0x30 && byte <= 0x39
            if isAlpha || (isDigit && index > 0) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out.append("_")
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0x0F))
            }
        }
        return out
    }

    /// Reverses ``escape(_:)``; returns nil for text that no escaping could have produced.
    public static func unescape(_ element: String) -> String? {
        if element == "_" { return "" }
        let bytes = Array(element.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x5F {  // "_"
                guard index + 2 < bytes.count,
                    let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                let isAlnum =
                    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                guard isAlnum else { return nil }
                out.append(byte)
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// The object path of a unit (`hello@1.service` → `/org/freedesktop/systemd1/unit/hello_401_2eservice`).
    public static func unitPath(_ unitName: String) -> String {
        unitPrefix + "/" + escape(unitName)
    }

    /// The unit name for a unit object path, or nil when the path is not a unit path.
    public static func unitName(fromPath path: String) -> String? {
        let prefix = unitPrefix + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let element = path.dropFirst(prefix.count)
        guard !element.isEmpty, !element.contains("/") else { return nil }
        return unescape(String(element))
    }

    private static func hexDigit(_ nibble: UInt8) -> Character {
        Character(Unicode.Scalar(nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10))
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x61...0x66: return byte - 0x61 + 10
        case 0x41...0x46: return byte - 0x41 + 10
        default: return nil
        }
    }
}
