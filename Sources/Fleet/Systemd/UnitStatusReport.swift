#if canImport(Glibc)
import Glibc
#endif

/// A `systemctl status`-like report of one unit on one machine: what `fleetctl status` printed by
/// running `systemctl status` over SSH, produced here from systemd's D-Bus properties and the
/// journal so that the API can serve it.
public struct UnitStatusReport: Hashable, Sendable {
    public var name: String
    public var description: String
    public var state: UnitState
    /// `FragmentPath`: the file systemd loaded the unit from ("" when not loaded).
    public var fragmentPath: String
    /// `UnitFileState`: `linked-runtime`, `enabled-runtime`, … ("" when unknown).
    public var unitFileState: String
    public var machineID: String?
    /// The last journal lines, already formatted.
    public var journal: [String]

    public init(
        name: String, description: String, state: UnitState, fragmentPath: String = "", unitFileState: String = "",
        machineID: String? = nil, journal: [String] = []
    ) {
        self.name = name
        self.description = description
        self.state = state
        self.fragmentPath = fragmentPath
        self.unitFileState = unitFileState
        self.machineID = machineID
        self.journal = journal
    }

    /// The report text, laid out like `systemctl status`:
    ///
    ///     ● hello.service - Hello
    ///          Loaded: loaded (/run/fleet/units/hello.service; linked-runtime)
    ///          Active: active (running)
    ///         Machine: 0123…
    ///
    ///     <journal lines>
    public var text: String {
        let bullet = state.activeState == .failed ? "×" : state.activeState == .active ? "●" : "○"
        var out = "\(bullet) \(name)" + (description.isEmpty || description == name ? "" : " - \(description)") + "\n"
        var loaded = state.loadState.rawValue
        let detail = [fragmentPath, unitFileState].filter { !$0.isEmpty }
        if !detail.isEmpty { loaded += " (\(detail.joined(separator: "; ")))" }
        out += "     Loaded: \(loaded)\n"
        out += "     Active: \(state.activeState) (\(state.subState))\n"
        if let machineID { out += "    Machine: \(machineID)\n" }
        if !journal.isEmpty { out += "\n" + journal.map { $0 + "\n" }.joined() }
        return out
    }
}

extension JournalEntry {
    /// The entry as `journalctl --output=short` prints it: `Nov 24 02:03:04 identifier[pid]: message`
    /// (local time); the unit name stands in when the entry has no identifier.
    public var shortLine: String {
        var seconds = time_t(realtimeUSec / 1_000_000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%b %d %H:%M:%S", &parts)
        let stamp = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let source = (identifier ?? unit ?? "") + (pid.map { "[\($0)]" } ?? "")
        return source.isEmpty ? "\(stamp) \(message)" : "\(stamp) \(source): \(message)"
    }
}
