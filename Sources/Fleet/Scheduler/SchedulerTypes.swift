/// How sure the engine is that a machine is alive.
public enum MachinePresence: Hashable, Sendable {
    /// Heartbeat current: keeps its units and can take new ones.
    case present
    /// Heartbeat late or the store slow, but the presence key has not expired: keeps every unit it has
    /// (fleet #1289, #1690: never move or stop units because the store is slow) and takes no new ones.
    case suspect
}

/// A machine as the scheduler sees it. A machine whose presence key expired is simply not passed in;
/// its units are then rescheduled.
public struct SchedulerMachine: Hashable, Sendable {
    public var id: String
    public var metadata: [String: String]
    /// For the `%H` specifier.
    public var hostname: String?
    /// Most units the scheduler will *place* there (existing placements are never undone for it).
    public var capacity: Int?
    public var presence: MachinePresence

    public init(
        id: String, metadata: [String: String] = [:], hostname: String? = nil, capacity: Int? = nil,
        presence: MachinePresence = .present
    ) {
        self.id = id
        self.metadata = metadata
        self.hostname = hostname
        self.capacity = capacity
        self.presence = presence
    }

    /// From a registry record (metadata overrides already merged).
    public init(_ state: MachineState, presence: MachinePresence = .present) {
        self.init(
            id: state.id, metadata: state.metadata ?? [:], hostname: state.hostname, capacity: state.capacity,
            presence: presence)
    }
}

/// A unit as the scheduler sees it: name, desired state and parsed constraints.
public struct SchedulerUnit: Hashable, Sendable {
    public var name: UnitName
    public var desiredState: FleetState
    public var options: XFleetOptions

    public init(name: UnitName, desiredState: FleetState, options: XFleetOptions) {
        self.name = name
        self.desiredState = desiredState
        self.options = options
    }

    /// A unit without `[X-Fleet]` constraints.
    public init(name: UnitName, desiredState: FleetState) {
        self.init(name: name, desiredState: desiredState, options: XFleetOptions(unitName: name))
    }

    public init(_ unit: RegistryUnit) {
        self.init(name: unit.name, desiredState: unit.desiredState, options: unit.options)
    }
}

/// One step the engine should take, with the reason to log.
///
/// Execute in order: an `unschedule` that precedes a `schedule` of the same unit is a move.
/// `schedule` maps to creating `job/<unit>/target` (prevExist=false); `unschedule` to deleting it
/// with prevValue=<machine>; `unschedulable` changes nothing and is for logs and status.
public struct Decision: Hashable, Sendable, CustomStringConvertible {
    public enum Action: Hashable, Sendable {
        case schedule(machineID: String)
        case unschedule(machineID: String)
        case unschedulable
        /// Left on a vanished machine because too many vanished at once (see ``Scheduler/PlanPolicy``);
        /// nothing to write, worth a warning.
        case hold(machineID: String)
    }

    public let unit: String
    public let action: Action
    public let reason: Reason

    public init(unit: String, action: Action, reason: Reason) {
        self.unit = unit
        self.action = action
        self.reason = reason
    }

    public var description: String {
        switch action {
        case .schedule(let m): return "schedule \(unit) on \(m): \(reason)"
        case .unschedule(let m): return "unschedule \(unit) from \(m): \(reason)"
        case .unschedulable: return "cannot schedule \(unit): \(reason)"
        case .hold(let m): return "holding \(unit) on \(m): \(reason)"
        }
    }
}

extension Decision {
    /// Why a ``Decision`` was taken; ``description`` is a log line fragment.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        // schedule
        /// The least-loaded machine that can run the unit (its unit count before placing).
        case leastLoaded(units: Int)
        /// The machine named by `MachineID`.
        case pinned(String)
        /// The machine of the `MachineOf` peers.
        case followsPeers([String])
        // unschedule
        case desiredInactive
        /// The machine's presence key expired.
        case machineGone
        /// Global units are never in the schedule.
        case globalUnit
        /// Templates never run.
        case template
        case machineIDMismatch(required: String)
        case metadataMismatch
        case peerNotLocal(String)
        case conflict(with: String)
        case replacedBy(String)
        /// A `%m`/`%H` value made the unit's constraints invalid on that machine.
        case invalidOnMachine(String)
        // unschedulable
        case noMachines
        case noEligibleMachine(String)
        case peerNotScheduled(String)
        case machineOfCycle
        case machineNotPresent(String)
        // hold
        /// `lost` of the `known` machines named in the schedule vanished in one snapshot.
        case massMachineLoss(lost: Int, known: Int)

        public var description: String {
            switch self {
            case .leastLoaded(let n): return "least-loaded eligible machine (\(n) units)"
            case .pinned(let id): return "MachineID=\(id)"
            case .followsPeers(let peers): return "MachineOf=\(peers.joined(separator: " "))"
            case .desiredInactive: return "desired state is inactive"
            case .machineGone: return "target machine went away"
            case .globalUnit: return "global units are not scheduled"
            case .template: return "templates cannot be scheduled"
            case .machineIDMismatch(let id): return "machine does not match MachineID=\(id)"
            case .metadataMismatch: return "machine metadata does not satisfy MachineMetadata"
            case .peerNotLocal(let p): return "MachineOf peer \(p) is not on this machine"
            case .conflict(let u): return "conflicts with \(u) on this machine"
            case .replacedBy(let u): return "replaced by \(u)"
            case .invalidOnMachine(let e): return "constraints invalid on this machine: \(e)"
            case .noMachines: return "no machines available"
            case .noEligibleMachine(let summary): return "no eligible machine: \(summary)"
            case .peerNotScheduled(let p): return "MachineOf peer \(p) is not scheduled"
            case .machineOfCycle: return "MachineOf requirements form a cycle"
            case .machineNotPresent(let id): return "no present machine matches MachineID=\(id)"
            case .massMachineLoss(let lost, let known):
                return "\(lost) of \(known) machines vanished at once; suspecting the store, not the machines"
            }
        }
    }
}
