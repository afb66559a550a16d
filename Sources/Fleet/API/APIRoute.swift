/// Where a request path leads. The API is mounted under `/fleet/v1` and, for old clients,
/// `/v1-alpha`; `/metrics` sits at the root as in fleet.
enum APIRoute: Hashable, Sendable {
    /// `/`: fleet answers 405.
    case root
    /// The mount point itself (`/fleet/v1`): 405.
    case mount
    case metrics
    case discovery
    case machines
    case units
    case unit(String)
    /// Our addition: `systemctl status`-like text from the agent running the unit.
    case unitStatus(String)
    /// Our addition: the unit's journal from the agent running it.
    case unitJournal(String)
    case states
    case state(String)
    case notFound

    static let mounts = ["/fleet/v1", "/v1-alpha"]

    /// Routes a percent-decoded path; a trailing `/` on a collection is accepted, as fleet did.
    init(path: String) {
        if path == "/" {
            self = .root
            return
        }
        if path == "/metrics" {
            self = .metrics
            return
        }
        guard let mount = Self.mounts.first(where: { path == $0 || path.hasPrefix($0 + "/") }) else {
            self = .notFound
            return
        }
        var parts = path.dropFirst(mount.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.first == "" { parts.removeFirst() }
        if parts.count > 1, parts.last == "" { parts.removeLast() }
        switch (parts.first, parts.count) {
        case (nil, _), ("", 1): self = .mount
        case ("discovery", 1): self = .discovery
        case ("machines", 1): self = .machines
        case ("units", 1): self = .units
        case ("units", 2) where !parts[1].isEmpty: self = .unit(parts[1])
        case ("units", 3) where !parts[1].isEmpty && parts[2] == "status": self = .unitStatus(parts[1])
        case ("units", 3) where !parts[1].isEmpty && parts[2] == "journal": self = .unitJournal(parts[1])
        case ("state", 1): self = .states
        case ("state", 2) where !parts[1].isEmpty: self = .state(parts[1])
        default: self = .notFound
        }
    }

    /// A low-cardinality name for metrics (no unit names).
    var label: String {
        switch self {
        case .root: return "root"
        case .mount: return "mount"
        case .metrics: return "metrics"
        case .discovery: return "discovery"
        case .machines: return "machines"
        case .units: return "units"
        case .unit: return "unit"
        case .unitStatus: return "unit_status"
        case .unitJournal: return "unit_journal"
        case .states: return "state"
        case .state: return "state_item"
        case .notFound: return "not_found"
        }
    }
}
