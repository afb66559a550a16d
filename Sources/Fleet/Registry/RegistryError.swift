/// Why a registry operation failed, naming the unit or machine involved so the caller (API, fleetctl,
/// engine log) can say what to do next.
///
/// Store failures keep the underlying ``StoreClientError``; ``isUnavailable`` separates "the store did
/// not answer" (retry later, change nothing) from an answer that refused the operation.
public enum RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The store failed while doing `operation` (e.g. "create unit a.service").
    case store(operation: String, StoreClientError)
    /// `machines/<id>/object` already exists: another fleetd uses this machine ID, or the previous
    /// presence has not expired yet.
    case machineAlreadyPresent(String)
    /// `machines/<id>/object` does not exist (expired or removed): announce the machine again.
    case machineNotPresent(String)
    /// A unit of this name is already in the registry (with this content hash).
    case unitExists(String, hash: UnitHash?)
    /// No unit of this name is in the registry.
    case unitNotFound(String)
    /// `job/<unit>/target` already exists: the unit is scheduled (on `machineID`, when known).
    case alreadyScheduled(unit: String, machineID: String?)
    /// `job/<unit>/target` does not exist.
    case notScheduled(unit: String)
    /// `job/<unit>/target` names another machine than `expected`: someone moved it meanwhile.
    case scheduledElsewhere(unit: String, expected: String)
    /// A stored value could not be decoded; the record is skipped by readers.
    case corruptRecord(key: String, reason: String)
    /// A stored unit no longer validates (e.g. a desired state written by fleet's bug 6).
    case invalidUnit(String, UnitValidationError)

    public var description: String {
        switch self {
        case .store(let op, let e): return "\(op): \(e)"
        case .machineAlreadyPresent(let id):
            return "machine \(id) is already present in the registry; another fleetd may use this machine ID, or wait for the old presence to expire"
        case .machineNotPresent(let id): return "machine \(id) is not present in the registry; announce it again"
        case .unitExists(let u, let hash):
            return "unit \(u) already exists" + (hash.map { " (hash \($0.short))" } ?? "") + "; destroy it first or replace it"
        case .unitNotFound(let u): return "unit \(u) does not exist"
        case .alreadyScheduled(let u, let m):
            return "unit \(u) is already scheduled" + (m.map { " on machine \($0)" } ?? "")
        case .notScheduled(let u): return "unit \(u) is not scheduled"
        case .scheduledElsewhere(let u, let expected):
            return "unit \(u) is no longer scheduled on machine \(expected); re-read the schedule"
        case .corruptRecord(let key, let reason): return "unreadable registry record \(key): \(reason)"
        case .invalidUnit(let u, let e): return "stored unit \(u) is invalid: \(e)"
        }
    }

    /// Whether the store did not answer (nothing was decided; retry later).
    public var isUnavailable: Bool {
        if case .store(_, let e) = self { return e.isUnavailable }
        return false
    }
}
