/// A change systemd announced, delivered without polling.
///
/// The agent reacts to these instead of re-listing units: a `stateChanged` carries whichever of the
/// three fleet states changed (systemd sends only changed properties), a `jobRemoved` tells how a
/// start/stop job ended.
public enum UnitEvent: Hashable, Sendable {
    /// `PropertiesChanged` on a unit object for `org.freedesktop.systemd1.Unit`.
    case stateChanged(UnitStateChange)
    /// `JobRemoved(u id, o job, s unit, s result)`.
    case jobRemoved(JobRemoval)
    /// `Reloading(b active)`: a daemon-reload started (`true`) or finished (`false`).
    case reloading(Bool)

    /// The unit the event is about, if any.
    public var unit: String? {
        switch self {
        case .stateChanged(let change): return change.unit
        case .jobRemoved(let removal): return removal.unit
        case .reloading: return nil
        }
    }
}

/// The states that changed in one `PropertiesChanged` signal; nil means "not part of this change".
public struct UnitStateChange: Hashable, Sendable, CustomStringConvertible {
    /// Unit name, decoded from the object path.
    public var unit: String
    public var loadState: LoadState?
    public var activeState: ActiveState?
    public var subState: String?

    public init(unit: String, loadState: LoadState? = nil, activeState: ActiveState? = nil, subState: String? = nil) {
        self.unit = unit
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
    }

    public var description: String {
        "\(unit): load=\(loadState?.rawValue ?? "-") active=\(activeState?.rawValue ?? "-") sub=\(subState ?? "-")"
    }
}

/// A finished job.
public struct JobRemoval: Hashable, Sendable {
    public var id: UInt32
    /// The job's object path, as returned by `StartUnit` & co.
    public var job: String
    public var unit: String
    public var result: JobResult

    public init(id: UInt32, job: String, unit: String, result: JobResult) {
        self.id = id
        self.job = job
        self.unit = unit
        self.result = result
    }
}
