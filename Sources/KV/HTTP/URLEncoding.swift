/// A malformed percent-escape in a query string or form body.
public struct URLEncodingError: Error, Sendable, CustomStringConvertible {
    public var input: String
    public var description: String { "invalid URL escape in \"\(input)\"" }
}

/// Percent-encoding as used by URLs and `application/x-www-form-urlencoded` bodies.
public enum URLEncoding {
    /// Decodes `%XX` escapes (and `+` as space when `plusAsSpace`); nil when an escape is malformed.
    public static func percentDecode<S: StringProtocol>(_ s: S, plusAsSpace: Bool) -> String? {
        // Most paths and values contain nothing to decode: copy them as they are.
        if !s.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) {
            return String(s)
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let c = it.next() {
            switch c {
            case UInt8(ascii: "%"):
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else { return nil }
                out.append(hv << 4 | lv)
            case UInt8(ascii: "+") where plusAsSpace:
                out.append(UInt8(ascii: " "))
            default:
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `a=1&b=2` into ordered pairs; a bare `a` means `a=""`.
    public static func parseForm(_ s: Substring) throws(URLEncodingError) -> [(name: String, value: String)] {
        var result: [(String, String)] = []
        for pair in s.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let k = percentDecode(kv[0], plusAsSpace: true) else { throw URLEncodingError(input: String(pair)) }
            let rawValue = kv.count > 1 ? kv[1] : ""
            guard let v = percentDecode(rawValue, plusAsSpace: true) else { throw URLEncodingError(input: String(pair)) }
            result.append((k, v))
        }
        return result
    }

    /// Encodes a query or form component (unreserved characters stay as they are).
    public static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%"
                out += String(hexDigits[Int(b >> 4)])
                out += String(hexDigits[Int(b & 0xf)])
            }
        }
        return out
    }

    /// Encodes a path, keeping `/` (each segment escaped as with `percentEncode`).
    public static func percentEncodePath(_ s: String) -> String {
        s.split(separator: "/", omittingEmptySubsequences: false).map { percentEncode(String($0)) }.joined(separator: "/")
    }

    private static let hexDigits = Array("0123456789ABCDEF")

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
