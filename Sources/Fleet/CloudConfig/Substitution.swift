import Foundation

/// The machine's addresses used for `$public_ipv4`, `$private_ipv4`, `$public_ipv6`, `$private_ipv6`.
///
/// coreos-cloudinit took them from the datasource metadata, falling back to `COREOS_PUBLIC_IPV4`-style
/// environment variables (loaded from `/etc/environment`). `HostAddresses(environment:)` gives the
/// fallback; explicitly given values win via `merging(over:)`.
public struct HostAddresses: Equatable, Sendable {
    public var publicIPv4: String?
    public var privateIPv4: String?
    public var publicIPv6: String?
    public var privateIPv6: String?

    public init(publicIPv4: String? = nil, privateIPv4: String? = nil, publicIPv6: String? = nil, privateIPv6: String? = nil) {
        self.publicIPv4 = publicIPv4
        self.privateIPv4 = privateIPv4
        self.publicIPv6 = publicIPv6
        self.privateIPv6 = privateIPv6
    }

    /// Reads `COREOS_PUBLIC_IPV4`, `COREOS_PRIVATE_IPV4`, `COREOS_PUBLIC_IPV6`, `COREOS_PRIVATE_IPV6`
    /// (empty values count as absent).
    public init(environment: [String: String]) {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        self.init(publicIPv4: value("COREOS_PUBLIC_IPV4"), privateIPv4: value("COREOS_PRIVATE_IPV4"),
                  publicIPv6: value("COREOS_PUBLIC_IPV6"), privateIPv6: value("COREOS_PRIVATE_IPV6"))
    }

    /// These addresses, with gaps filled from `other`.
    public func merging(over other: HostAddresses) -> HostAddresses {
        HostAddresses(publicIPv4: publicIPv4 ?? other.publicIPv4, privateIPv4: privateIPv4 ?? other.privateIPv4,
                      publicIPv6: publicIPv6 ?? other.publicIPv6, privateIPv6: privateIPv6 ?? other.privateIPv6)
    }

    /// The variable name (without `$`) to its value.
    func value(of variable: String) -> String? {
        switch variable {
        case "public_ipv4": return publicIPv4
        case "private_ipv4": return privateIPv4
        case "public_ipv6": return publicIPv6
        case "private_ipv6": return privateIPv6
        default: return nil
        }
    }

    /// `/etc/environment` lines coreos-cloudinit wrote: `COREOS_PRIVATE_IPV4=…` etc., known ones only,
    /// in a fixed order.
    var environmentLines: [String] {
        [("COREOS_PRIVATE_IPV4", privateIPv4), ("COREOS_PRIVATE_IPV6", privateIPv6),
         ("COREOS_PUBLIC_IPV4", publicIPv4), ("COREOS_PUBLIC_IPV6", publicIPv6)]
            .compactMap { key, value in value.map { "\(key)=\($0)" } }
    }

    /// Stand-in addresses used only while validating, so `http://$private_ipv4:2380` can be checked as a
    /// URL before the real address is known. Documentation ranges (RFC 5737 / RFC 3849).
    static let placeholders = HostAddresses(publicIPv4: "203.0.113.254", privateIPv4: "192.0.2.254",
                                            publicIPv6: "2001:db8::fe", privateIPv6: "2001:db8::ff")
}

/// A `$variable` the user-data used but no address was given for.
public struct MissingAddress: Equatable, Sendable {
    /// e.g. `private_ipv4`.
    public var variable: String
    public var line: Int
}

/// The textual substitution coreos-cloudinit performed over the whole user-data before parsing.
public enum AddressSubstitution {
    static let variables = ["public_ipv4", "private_ipv4", "public_ipv6", "private_ipv6"]

    /// Replaces every `$public_ipv4`-style variable with its address; `\$public_ipv4` becomes a literal
    /// `$public_ipv4`. Variables without an address are left in place and reported (coreos-cloudinit
    /// silently put an empty string there, which produced URLs like `http://:2380`).
    public static func apply(to text: String, addresses: HostAddresses) -> (text: String, missing: [MissingAddress]) {
        var result = ""
        var missing: [MissingAddress] = []
        var line = 1
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c == "\n" { line += 1 }
            if c == "\\", let (name, end) = variable(in: text, at: text.index(after: index)) {
                result += "$" + name
                index = end
                continue
            }
            if c == "$", let (name, end) = variable(in: text, at: index) {
                if let value = addresses.value(of: name) {
                    result += value
                } else {
                    result += "$" + name
                    missing.append(MissingAddress(variable: name, line: line))
                }
                index = end
                continue
            }
            result.append(c)
            index = text.index(after: index)
        }
        return (result, missing)
    }

    /// If a `$variable` starts at `index`, its name and the index after it.
    private static func variable(in text: String, at index: String.Index) -> (String, String.Index)? {
        guard index < text.endIndex, text[index] == "$" else { return nil }
        let rest = text[text.index(after: index)...]
        for name in variables where rest.hasPrefix(name) {
            return (name, text.index(index, offsetBy: name.count + 1))
        }
        return nil
    }

    /// Substitutes with the validation placeholders (no missing values possible).
    static func placeholder(_ text: String) -> String {
        apply(to: text, addresses: HostAddresses.placeholders).text
    }

    /// Puts variable names back in a message that mentions a placeholder address.
    static func unplaceholder(_ message: String) -> String {
        var m = message
        let p = HostAddresses.placeholders
        for (address, name) in [(p.publicIPv4!, "$public_ipv4"), (p.privateIPv4!, "$private_ipv4"),
                                (p.publicIPv6!, "$public_ipv6"), (p.privateIPv6!, "$private_ipv6")] {
            m = m.replacingOccurrences(of: address, with: name)
        }
        return m
    }
}
