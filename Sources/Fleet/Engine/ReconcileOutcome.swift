/// What one ``Engine/reconcileOnce()`` did, for logs and tests.
public enum ReconcileOutcome: Sendable, Equatable {
    /// Another engine holds the lease (named when known); nothing was read or written.
    case notLeader(holder: String?)
    /// The store did not answer (lease or snapshot); nothing was written, placements stand.
    case storeUnavailable(String)
    /// This engine held the lease and reconciled.
    case reconciled(ReconcileReport)

    /// The report, when reconciled.
    public var report: ReconcileReport? {
        if case .reconciled(let r) = self { return r }
        return nil
    }
}

/// The decisions of a pass and how far their execution got.
public struct ReconcileReport: Sendable, Equatable {
    /// Store index of the snapshot the pass planned from.
    public var snapshotIndex: UInt64
    /// Every decision of the plan, in order (including unschedulable and hold).
    public var decisions: [Decision]
    /// The schedule/unschedule decisions written successfully.
    public var executed: [Decision]
    /// Units whose leftover `job/<u>/target` was removed: destroyed after being scheduled, so the
    /// stale placement cannot leak or be inherited by a new unit of the same name.
    public var orphansRemoved: [String] = []
    /// Why execution stopped early, if it did.
    public var stopped: StopReason?

    public enum StopReason: Sendable, Equatable, CustomStringConvertible {
        /// The lease could not be renewed or its validity ran out mid-batch: a deposed or partitioned
        /// leader must not write.
        case leaseLost(String)
        /// A write was refused because the registry changed since the snapshot; the next pass
        /// (triggered by that change) replans.
        case conflict(RegistryError)
        /// The store stopped answering; the rest waits for the next pass.
        case storeUnavailable(RegistryError)

        public var description: String {
            switch self {
            case .leaseLost(let why): return "lease lost: \(why)"
            case .conflict(let e): return "registry changed: \(e)"
            case .storeUnavailable(let e): return "store unavailable: \(e)"
            }
        }
    }
}
