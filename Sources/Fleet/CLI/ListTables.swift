/// The three list commands' tables: which fields exist, the defaults, how each cell is rendered and
/// how rows are sorted, matching fleetctl v1.0.0 so that scripts reading its output keep working.
///
/// Every empty value prints as `-`. Sort orders: machines by ID, unit states by (unit, machine ID),
/// unit files by name.
public enum ListTables {
    /// `--full`, `--no-legend` and `--fields` of a list command.
    public struct Options: Sendable, Equatable {
        public var full: Bool
        public var noLegend: Bool
        /// The comma-separated `--fields` value; nil for the command's default columns.
        public var fields: String?
        public init(full: Bool = false, noLegend: Bool = false, fields: String? = nil) {
            self.full = full
            self.noLegend = noLegend
            self.fields = fields
        }
    }

    /// A rendered table plus warnings for stderr (deprecated fields).
    public struct Output: Sendable, Equatable {
        public var table: String
        public var warnings: [String]
    }

    public static let machineFields = ["machine", "ip", "metadata"]
    public static let machineDefaults = ["machine", "ip", "metadata"]
    public static let unitFields = ["active", "hash", "load", "machine", "sub", "unit"]
    public static let unitDefaults = ["unit", "machine", "active", "sub"]
    public static let unitFileFields = ["desc", "dstate", "global", "hash", "state", "target", "tmachine", "unit"]
    public static let unitFileDefaults = ["unit", "hash", "dstate", "state", "target"]

    /// `list-machines`.
    public static func machines(_ machines: [APIMachine], _ options: Options) throws(CLIError) -> Output {
        let fields = try selectFields(options.fields, valid: machineFields, defaults: machineDefaults,
                                      command: "list-machines")
        let rows = machines.sorted { $0.id < $1.id }.map { m in
            fields.map { field -> String in
                switch field {
                case "machine": return MachineLabel.id(m.id, full: options.full)
                case "ip": return m.primaryIP
                default:
                    return m.metadata.keys.sorted().map { "\($0)=\(m.metadata[$0]!)" }.joined(separator: ",")
                }
            }
        }
        return Output(table: render(fields, rows, options), warnings: [])
    }

    /// `list-units`: systemd's state of each unit on each machine.
    public static func units(_ states: [APIUnitState], machines: [APIMachine], _ options: Options)
        throws(CLIError) -> Output
    {
        let fields = try selectFields(options.fields, valid: unitFields, defaults: unitDefaults, command: "list-units")
        let label = MachineLabel(machines: machines, full: options.full)
        let sorted = states.sorted { ($0.name, $0.machineID) < ($1.name, $1.machineID) }
        let rows = sorted.map { s in
            fields.map { field -> String in
                switch field {
                case "unit": return s.name
                case "machine": return s.machineID.isEmpty ? "" : label.label(s.machineID)
                case "active": return s.systemdActiveState
                case "sub": return s.systemdSubState
                case "load": return s.systemdLoadState
                default: return options.full ? s.hash : String(s.hash.prefix(7))
                }
            }
        }
        return Output(table: render(fields, rows, options), warnings: [])
    }

    /// `list-unit-files`: each unit's desired and current fleet state.
    public static func unitFiles(_ units: [APIUnit], machines: [APIMachine], _ options: Options)
        throws(CLIError) -> Output
    {
        let fields = try selectFields(options.fields, valid: unitFileFields, defaults: unitFileDefaults,
                                      command: "list-unit-files")
        let label = MachineLabel(machines: machines, full: options.full)
        let rows = units.sorted { $0.name < $1.name }.map { u in
            let global = u.isGlobal
            return fields.map { field -> String in
                switch field {
                case "unit": return u.name
                case "hash":
                    guard let hash = u.unitHash else { return "" }
                    return options.full ? hash.hex : hash.short
                case "desc": return u.unitFile?.unitDescription ?? ""
                case "dstate": return u.desiredState ?? ""
                case "state": return global ? "" : u.currentState ?? ""
                case "global": return global ? "true" : "false"
                default:  // target, tmachine
                    if global { return "global" }
                    return u.machineID.map { label.label($0) } ?? ""
                }
            }
        }
        let warnings = fields.contains("tmachine")
            ? ["WARNING: the \"tmachine\" field is deprecated; use \"target\" instead."] : []
        return Output(table: render(fields, rows, options), warnings: warnings)
    }

    /// Parses `--fields`; an empty list or an unknown field is a usage error naming the valid ones.
    static func selectFields(_ spec: String?, valid: [String], defaults: [String], command: String)
        throws(CLIError) -> [String]
    {
        guard let spec else { return defaults }
        let fields = spec.split(separator: ",", omittingEmptySubsequences: false)
            .map { String($0).trimmingCharacters(in: " ") }
        if fields.allSatisfy(\.isEmpty) {
            throw .usage("\(command): --fields is empty; valid fields: \(valid.joined(separator: ","))")
        }
        for field in fields where !valid.contains(field) {
            throw .usage("\(command): unknown field \"\(field)\" in --fields; valid fields: \(valid.joined(separator: ","))")
        }
        return fields
    }

    private static func render(_ fields: [String], _ rows: [[String]], _ options: Options) -> String {
        var table = TabTable()
        if !options.noLegend { table.append(fields.map { $0.uppercased() }) }
        for row in rows { table.append(row.map { $0.isEmpty ? "-" : $0 }) }
        return table.rendered()
    }
}

extension String {
    /// The string without leading and trailing characters from `set`.
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
