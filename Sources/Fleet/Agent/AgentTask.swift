/// One step the agent takes to make systemd match the cluster, with the reason it logs.
///
/// Tasks run in ``Kind`` order (unload, load, one daemon-reload, stop, start), then by unit name, as
/// fleet's agent did: removing and writing files first lets a single daemon-reload cover every file
/// change of the pass, and stops precede starts so a unit replaced by another is gone before the new
/// one starts.
public struct AgentTask: Hashable, Sendable, CustomStringConvertible {
    /// What to do; the raw value is the execution order.
    public enum Kind: Int, Hashable, Sendable, Comparable, CustomStringConvertible {
        case unload, load, reloadUnitFiles, stop, start

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .unload: return "UnloadUnit"
            case .load: return "LoadUnit"
            case .reloadUnitFiles: return "ReloadUnitFiles"
            case .stop: return "StopUnit"
            case .start: return "StartUnit"
            }
        }
    }

    /// Why a task was planned; ``description`` uses fleet's wording where fleet had one, so logs read
    /// the same to people who know fleet.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        case loadedButNotScheduled
        case scheduledButNotLoaded
        case hashDiffers
        case unitFilesChanged
        case desiredLaunched
        case desiredLoaded
        case purging

        public var description: String {
            switch self {
            case .loadedButNotScheduled: return "unit loaded but not scheduled here"
            case .scheduledButNotLoaded: return "unit scheduled here but not loaded"
            case .hashDiffers: return "unit loaded but hash differs to expected"
            case .unitFilesChanged: return "unit files changed"
            case .desiredLaunched: return "unit currently loaded but desired state is launched"
            case .desiredLoaded: return "unit currently launched but desired state is loaded"
            case .purging: return "purging agent"
            }
        }
    }

    public let kind: Kind
    /// The unit concerned; nil only for ``Kind/reloadUnitFiles``.
    public let unit: String?
    /// For ``Kind/load``: the file to write and its hash.
    public let desired: DesiredUnit?
    public let reason: Reason

    private init(kind: Kind, unit: String?, desired: DesiredUnit?, reason: Reason) {
        self.kind = kind
        self.unit = unit
        self.desired = desired
        self.reason = reason
    }

    /// Stop the unit, then (only if the stop succeeded, fleet #1216) disable it and remove its file.
    public static func unload(_ unit: String, reason: Reason) -> AgentTask {
        AgentTask(kind: .unload, unit: unit, desired: nil, reason: reason)
    }
    /// Write the unit's file and link it into systemd.
    public static func load(_ unit: DesiredUnit, reason: Reason) -> AgentTask {
        AgentTask(kind: .load, unit: unit.name, desired: unit, reason: reason)
    }
    /// One daemon-reload covering every load and unload of the pass.
    public static func reloadUnitFiles(reason: Reason = .unitFilesChanged) -> AgentTask {
        AgentTask(kind: .reloadUnitFiles, unit: nil, desired: nil, reason: reason)
    }
    public static func stop(_ unit: String, reason: Reason) -> AgentTask {
        AgentTask(kind: .stop, unit: unit, desired: nil, reason: reason)
    }
    public static func start(_ unit: String, reason: Reason) -> AgentTask {
        AgentTask(kind: .start, unit: unit, desired: nil, reason: reason)
    }

    /// `StopUnit web.service: unit currently launched but desired state is loaded`.
    public var description: String {
        if let unit { return "\(kind) \(unit): \(reason)" }
        return "\(kind): \(reason)"
    }

    /// Execution order: by kind, then by unit name.
    static func precedes(_ a: AgentTask, _ b: AgentTask) -> Bool {
        if a.kind != b.kind { return a.kind < b.kind }
        return (a.unit ?? "") < (b.unit ?? "")
    }
}
