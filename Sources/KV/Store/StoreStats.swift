/// Operation counters for `GET /v2/stats/store` and metrics (etcd's store `Stats`).
///
/// Member-local and not part of snapshots or `hash()`: write counters agree across members because
/// every member applies every write; read counters count only this member's reads.
public struct StoreStats: Sendable, Hashable {
    public var getsSuccess: UInt64 = 0
    public var getsFail: UInt64 = 0
    public var setsSuccess: UInt64 = 0
    public var setsFail: UInt64 = 0
    public var deleteSuccess: UInt64 = 0
    public var deleteFail: UInt64 = 0
    public var updateSuccess: UInt64 = 0
    public var updateFail: UInt64 = 0
    public var createSuccess: UInt64 = 0
    public var createFail: UInt64 = 0
    public var compareAndSwapSuccess: UInt64 = 0
    public var compareAndSwapFail: UInt64 = 0
    public var compareAndDeleteSuccess: UInt64 = 0
    public var compareAndDeleteFail: UInt64 = 0
    public var expireCount: UInt64 = 0
    /// Registered watchers at the time the stats were read.
    public var watchers: Int = 0

    public init() {}

    /// `{"getsSuccess":…,…,"expireCount":…,"watchers":…}` in etcd's field order (no trailing newline).
    public var json: String {
        let fields: [(String, String)] = [
            ("getsSuccess", "\(getsSuccess)"), ("getsFail", "\(getsFail)"),
            ("setsSuccess", "\(setsSuccess)"), ("setsFail", "\(setsFail)"),
            ("deleteSuccess", "\(deleteSuccess)"), ("deleteFail", "\(deleteFail)"),
            ("updateSuccess", "\(updateSuccess)"), ("updateFail", "\(updateFail)"),
            ("createSuccess", "\(createSuccess)"), ("createFail", "\(createFail)"),
            ("compareAndSwapSuccess", "\(compareAndSwapSuccess)"), ("compareAndSwapFail", "\(compareAndSwapFail)"),
            ("compareAndDeleteSuccess", "\(compareAndDeleteSuccess)"),
            ("compareAndDeleteFail", "\(compareAndDeleteFail)"),
            ("expireCount", "\(expireCount)"), ("watchers", "\(watchers)"),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Counts the outcome of one applied command.
    mutating func record(_ op: StoreOperation, _ outcome: StoreOutcome) {
        if case .expired(let evs) = outcome {
            expireCount += UInt64(evs.count)
            return
        }
        let ok: Bool
        if case .event = outcome { ok = true } else { ok = false }
        switch op {
        case .set: ok ? (setsSuccess += 1) : (setsFail += 1)
        case .create:
            ok ? (createSuccess += 1) : (createFail += 1)
            // etcd quirk: a create that fails on a file in its path also counts as a failed set.
            if case .failure(let e) = outcome, e.code == .notDir { setsFail += 1 }
        case .update: ok ? (updateSuccess += 1) : (updateFail += 1)
        case .compareAndSwap: ok ? (compareAndSwapSuccess += 1) : (compareAndSwapFail += 1)
        case .delete: ok ? (deleteSuccess += 1) : (deleteFail += 1)
        case .compareAndDelete: ok ? (compareAndDeleteSuccess += 1) : (compareAndDeleteFail += 1)
        case .get: ok ? (getsSuccess += 1) : (getsFail += 1)
        case .expire: break
        }
    }
}
