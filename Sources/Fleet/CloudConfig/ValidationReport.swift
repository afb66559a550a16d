/// One problem found in user-data.
public struct CloudConfigDiagnostic: Equatable, Sendable, CustomStringConvertible {
    /// How serious a problem is. Only errors stop a boot from being planned.
    public enum Severity: String, Sendable, Comparable {
        case info, warning, error
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        private var rank: Int {
            switch self {
            case .info: return 0
            case .warning: return 1
            case .error: return 2
            }
        }
    }

    /// 1-based line in the user-data file (the `#cloud-config` header is line 1).
    public var line: Int
    public var severity: Severity
    /// Dotted key path such as `coreos.units[0].command`; empty for whole-file problems.
    public var path: String
    public var message: String

    public init(line: Int, severity: Severity, path: String, message: String) {
        self.line = line
        self.severity = severity
        self.path = path
        self.message = message
    }

    /// `line 7: error: coreos.fleet.agent_ttl: expected a duration like "30s", got 12abc`.
    public var description: String {
        path.isEmpty ? "line \(line): \(severity.rawValue): \(message)"
            : "line \(line): \(severity.rawValue): \(path): \(message)"
    }
}

/// The result of validating user-data: every problem, in file order.
///
/// Unlike coreos-cloudinit (whose entries came out in random order and whose wrong types were only
/// warnings, then silently zeroed at boot), a wrong type or invalid value here is an error and the
/// boot plan is refused; unknown keys are warnings.
public struct CloudConfigReport: Equatable, Sendable {
    /// What kind of user-data this was.
    public var format: UserDataFormat
    /// Sorted by line, then severity (errors first) — stable for equal keys.
    public var diagnostics: [CloudConfigDiagnostic]

    public init(format: UserDataFormat, diagnostics: [CloudConfigDiagnostic]) {
        self.format = format
        self.diagnostics = diagnostics.enumerated().sorted { a, b in
            if a.element.line != b.element.line { return a.element.line < b.element.line }
            return a.offset < b.offset
        }.map(\.element)
    }

    public var errors: [CloudConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [CloudConfigDiagnostic] { diagnostics.filter { $0.severity != .error } }
    /// True when a boot may proceed (warnings and infos do not block).
    public var isValid: Bool { errors.isEmpty }

    /// Exit status for `fleetd validate`:
    /// * `0`: no problems at all;
    /// * `1`: at least one error — the file would be refused at boot;
    /// * `2`: only warnings or infos — the file boots, but something deserves a look (an unknown key is
    ///   usually a typo).
    ///
    /// coreos-cloudinit exited 1 for any entry; splitting errors from warnings lets scripts accept
    /// warnings with `fleetd validate f || [ $? -eq 2 ]` while still failing on errors.
    public var exitStatus: Int32 {
        if !errors.isEmpty { return 1 }
        if !diagnostics.isEmpty { return 2 }
        return 0
    }

    /// The text `fleetd validate` prints: one line per diagnostic, then a summary line.
    public var text: String {
        var lines = diagnostics.map(\.description)
        let errorCount = errors.count
        let warningCount = diagnostics.count - errorCount
        switch (errorCount, warningCount) {
        case (0, 0): lines.append("valid \(format.displayName)")
        case (0, _): lines.append("valid \(format.displayName) with \(plural(warningCount, "warning"))")
        default: lines.append("invalid: \(plural(errorCount, "error")), \(plural(warningCount, "warning"))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func plural(_ n: Int, _ word: String) -> String { n == 1 ? "1 \(word)" : "\(n) \(word)s" }
}

/// Why planning a boot failed: the report with at least one error (no action was planned).
public struct CloudConfigInvalid: Error, Equatable, Sendable, CustomStringConvertible {
    public var report: CloudConfigReport
    public var description: String { report.text }
}
