/// A unit's load state (`loaded`, `not-found`, `error`, `bad-setting`, `masked`, ...).
///
/// A string-backed struct rather than a closed enum: systemd adds values over releases and the agent
/// must pass unknown ones through to the registry unchanged.
public struct LoadState: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let stub: LoadState = "stub"
    public static let loaded: LoadState = "loaded"
    public static let notFound: LoadState = "not-found"
    public static let badSetting: LoadState = "bad-setting"
    public static let error: LoadState = "error"
    public static let merged: LoadState = "merged"
    public static let masked: LoadState = "masked"
}

/// A unit's active state (`active`, `inactive`, `failed`, `activating`, ...); see ``LoadState`` for why
/// this is not a closed enum.
public struct ActiveState: RawRepresentable, Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let active: ActiveState = "active"
    public static let reloading: ActiveState = "reloading"
    public static let inactive: ActiveState = "inactive"
    public static let failed: ActiveState = "failed"
    public static let activating: ActiveState = "activating"
    public static let deactivating: ActiveState = "deactivating"
    public static let maintenance: ActiveState = "maintenance"
}

/// The three states fleet reports for a unit (`loadState`, `activeState`, `subState` in the registry).
public struct UnitState: Hashable, Sendable, CustomStringConvertible {
    public var loadState: LoadState
    public var activeState: ActiveState
    /// Type-specific detail such as `running`, `dead`, `exited`, `failed`.
    public var subState: String

    public init(loadState: LoadState, activeState: ActiveState, subState: String) {
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
    }

    public var description: String { "\(loadState)/\(activeState)/\(subState)" }
}

/// One row of `ListUnits` / `ListUnitsByNames` (`a(ssssssouso)`), in the documented field order.
public struct UnitStatus: Hashable, Sendable {
    /// Primary unit name.
    public var name: String
    public var description: String
    public var loadState: LoadState
    public var activeState: ActiveState
    public var subState: String
    /// The unit this one follows, or "".
    public var following: String
    /// The unit's object path.
    public var path: String
    /// Queued job id, 0 when none.
    public var jobID: UInt32
    public var jobType: String
    public var jobPath: String

    public init(
        name: String, description: String, loadState: LoadState, activeState: ActiveState, subState: String,
        following: String = "", path: String = "", jobID: UInt32 = 0, jobType: String = "", jobPath: String = "/"
    ) {
        self.name = name
        self.description = description
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
        self.following = following
        self.path = path
        self.jobID = jobID
        self.jobType = jobType
        self.jobPath = jobPath
    }

    /// The fleet-reported triple.
    public var state: UnitState { UnitState(loadState: loadState, activeState: activeState, subState: subState) }
}

/// One change reported by `LinkUnitFiles`, `EnableUnitFiles`, `DisableUnitFiles` (`a(sss)`).
public struct UnitFileChange: Hashable, Sendable {
    /// `symlink` or `unlink`.
    public var type: String
    /// The symlink's file name.
    public var file: String
    /// Where it points ("" for unlink).
    public var destination: String

    public init(type: String, file: String, destination: String) {
        self.type = type
        self.file = file
        self.destination = destination
    }
}

/// How a job finished (`JobRemoved` result): `done`, `canceled`, `timeout`, `failed`, `dependency`, `skipped`.
public struct JobResult: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let done: JobResult = "done"
    public static let canceled: JobResult = "canceled"
    public static let timeout: JobResult = "timeout"
    public static let failed: JobResult = "failed"
    public static let dependency: JobResult = "dependency"
    public static let skipped: JobResult = "skipped"
}

/// How `StartUnit`/`StopUnit`/`RestartUnit` treat conflicting queued jobs.
public enum JobMode: String, Sendable {
    case replace, fail, isolate
    case ignoreDependencies = "ignore-dependencies"
    case ignoreRequirements = "ignore-requirements"
}

/// Which processes `KillUnit` signals.
public enum KillWho: String, Sendable {
    case main, control, all
}
