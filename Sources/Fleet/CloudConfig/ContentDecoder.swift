import Foundation

/// Decodes `write_files[].content` per its `encoding`, exactly once, during validation, so a file that
/// cannot be decoded is an error before anything is planned.
enum ContentDecoder {
    struct Failure: Error, Equatable {
        var message: String
    }

    /// - Parameters:
    ///   - text: the scalar as written (for `!!binary`, its base64 text).
    ///   - binary: the scalar carried the YAML `!!binary` tag (how gzip content is usually given).
    ///   - encoding: the `encoding` field, already checked against the allowed spellings.
    static func decode(_ text: String, binary: Bool, encoding: String?) -> Result<[UInt8], Failure> {
        var bytes: [UInt8]
        if binary {
            guard let decoded = base64(text) else {
                return .failure(Failure(message: "content is tagged !!binary but is not valid base64"))
            }
            bytes = decoded
        } else {
            bytes = Array(text.utf8)
        }
        guard let encoding else { return .success(bytes) }
        let usesBase64 = ["base64", "b64", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64"].contains(encoding)
        let usesGzip = encoding.hasPrefix("gz")
        if usesBase64 {
            guard let decoded = base64(String(decoding: bytes, as: UTF8.self)) else {
                return .failure(Failure(message: "content cannot be decoded as \"\(encoding)\": not valid base64"))
            }
            bytes = decoded
        }
        if usesGzip {
            do {
                bytes = try Gzip.decompress(bytes)
            } catch {
                let hint = usesBase64 ? "" : " (give gzip data with the YAML !!binary tag, or use encoding gzip+base64)"
                return .failure(Failure(message: "content cannot be decoded as \"\(encoding)\": \(error.reason)\(hint)"))
            }
        }
        return .success(bytes)
    }

    /// Standard base64 with padding; whitespace and line breaks are ignored, anything else is refused.
    static func base64(_ text: String) -> [UInt8]? {
        let compact = text.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: compact) else { return nil }
        return [UInt8](data)
    }
}

/// systemd unit-name rules, enough to catch typos before a boot fails on them.
enum UnitNames {
    static let suffixes = ["service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer",
                           "snapshot", "slice", "scope", "network", "netdev", "link"]

    /// Nil when valid, else what was expected.
    static func problem(_ name: String) -> String? {
        guard name.count <= 255, let dot = name.lastIndex(of: "."), dot != name.startIndex else {
            return "expected a unit name like \"foo.service\""
        }
        let suffix = String(name[name.index(after: dot)...])
        guard suffixes.contains(suffix) else {
            return "expected a unit name ending in a unit type (.service, .socket, .timer, .mount, .network, ...)"
        }
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ":_.@-\\".contains($0)) }
        return allowed ? nil : "unit names may only contain letters, digits and \":_.@-\\\""
    }
}
