/// The kinds of user-data coreos-cloudinit recognised, decided from the content alone.
public enum UserDataFormat: Equatable, Sendable {
    /// First line is exactly `#cloud-config` (trailing whitespace ignored): YAML follows.
    case cloudConfig
    /// First line starts with `#!`: run as a script by the boot.
    case script
    /// JSON with `ignitionVersion` or `ignition.version`: not ours to apply; boot does nothing.
    case ignition
    /// Nothing (or only whitespace): nothing to do.
    case empty
    /// Anything else: refused.
    case unrecognized

    var displayName: String {
        switch self {
        case .cloudConfig: return "cloud-config"
        case .script: return "script"
        case .ignition: return "Ignition config (not applied)"
        case .empty: return "empty user-data"
        case .unrecognized: return "user-data"
        }
    }
}

/// Raw user-data after transparent gzip decompression, with its detected format.
public struct UserData: Equatable, Sendable {
    public var format: UserDataFormat
    /// The text (decompressed if the input was gzip).
    public var text: String
    /// True when the input was gzip-compressed.
    public var wasCompressed: Bool
    /// Why bytes could not be read as text (corrupt gzip, not UTF-8); nil when they could.
    public var problem: String?

    /// Classifies user-data the way coreos-cloudinit did: gunzip first if the bytes carry the gzip
    /// magic, then look at the first line. Undecodable gzip or non-UTF-8 text is `.unrecognized`.
    public init(bytes: [UInt8]) {
        var data = bytes
        wasCompressed = false
        if data.count >= 2, data[0] == 0x1f, data[1] == 0x8b {
            do {
                data = try Gzip.decompress(data)
                wasCompressed = true
            } catch {
                format = .unrecognized
                text = ""
                problem = "gzip-compressed user-data cannot be decompressed: \(error.reason)"
                return
            }
        }
        guard let decoded = String(validating: data, as: UTF8.self) else {
            format = .unrecognized
            text = ""
            problem = "user-data is not UTF-8 text"
            return
        }
        text = decoded
        format = UserData.classify(decoded)
    }

    /// Classifies text that is already decoded.
    public init(text: String) {
        self.text = text
        self.wasCompressed = false
        self.format = UserData.classify(text)
    }

    static func classify(_ text: String) -> UserDataFormat {
        if text.allSatisfy({ $0.isWhitespace }) { return .empty }
        // Split on the first "\n" scalar: as Characters, "\r\n" is a single grapheme.
        let scalars = text.unicodeScalars
        let firstLine = scalars.prefix(while: { $0 != "\n" })
        var header = Substring.UnicodeScalarView(firstLine)
        while let last = header.last, last.properties.isWhitespace { header = header.dropLast() }
        let headerText = String(header)
        if headerText == "#cloud-config" { return .cloudConfig }
        if headerText.hasPrefix("#!") { return .script }
        if isIgnition(text) { return .ignition }
        return .unrecognized
    }

    /// A cheap structural check: a JSON object mentioning `ignitionVersion` or an `ignition` object with a
    /// `version` (cloudinit only exits early on these, it never interprets them).
    static func isIgnition(_ text: String) -> Bool {
        let trimmed = text.drop(while: { $0.isWhitespace })
        guard trimmed.hasPrefix("{") else { return false }
        if trimmed.contains("\"ignitionVersion\"") { return true }
        return trimmed.contains("\"ignition\"") && trimmed.contains("\"version\"")
    }
}
