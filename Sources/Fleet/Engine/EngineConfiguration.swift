/// How the engine paces itself. Defaults suit a cluster of a few hundred units; tests shorten them.
public struct EngineConfiguration: Sendable {
    /// This engine's machine ID (the lease holder name).
    public var machineID: String
    /// Leader lease TTL in seconds: how long after the leader dies another engine can take over.
    /// fleet used 5 × reconcile interval (10 s); fleetd passes `engine_lease_ttl`, by default the
    /// `machine_ttl` (4 s).
    public var leaseTTL: Int
    /// A full reconcile runs at least this often even without store events (safety net for a lost
    /// watch). Events, not this timer, drive normal scheduling.
    public var safetyInterval: Duration
    /// After a store event, wait this long for more before reconciling, so a burst (300 units
    /// submitted at once) costs one pass, not 300. fleet slept a whole second here.
    public var debounce: Duration
    /// Writes between lease renewals. Each batch starts with a renewal and stops as soon as the lease
    /// could have expired (fencing).
    public var batchSize: Int
    /// Schedule writes in flight at most within a batch (see ``WriteWaves``); 1 writes one at a time.
    public var writeConcurrency: Int = BoundedConcurrency.defaultLimit
    /// The scheduler's safety limits (mass machine loss is held by default).
    public var policy: Scheduler.PlanPolicy
    /// How long units of a mass machine loss are held before the loss is believed and they are
    /// rescheduled; nil holds them until the machines return.
    public var massLossGrace: Duration?
    /// Lease `Version` (fleet's engine version; an engine with a lower version steps aside).
    public var version: Int
    /// Wake on store changes; false (`disable_watches`) leaves only the periodic passes.
    public var watch: Bool = true
    /// Event passes plan from the watched model (``EngineModel``); false makes every pass read the
    /// whole registry, as before the model existed (for comparisons: `fleet-bench fleet-sim --full-reads`).
    public var incremental: Bool = true

    public init(
        machineID: String, leaseTTL: Int = 10, safetyInterval: Duration = .seconds(30),
        debounce: Duration = .milliseconds(50), batchSize: Int = 64,
        policy: Scheduler.PlanPolicy = .default, massLossGrace: Duration? = .seconds(60), version: Int = 1
    ) {
        self.machineID = machineID
        self.leaseTTL = max(1, leaseTTL)
        self.safetyInterval = safetyInterval
        self.debounce = debounce
        self.batchSize = max(1, batchSize)
        self.policy = policy
        self.massLossGrace = massLossGrace
        self.version = version
    }

    /// From fleet.conf: the periodic safety pass runs every 15 × `engine_reconcile_interval` (30 s by
    /// default): fleet re-read everything every interval, while here store events drive scheduling
    /// and the periodic pass only repairs a lost watch, so running it every 2 s would cost a quarter
    /// of a core at 10,000 units for nothing. The lease TTL is
    /// `engine_lease_ttl`, else `machine_ttl`, in whole seconds rounded up (the store's TTLs are whole
    /// seconds). fleet's 5 × interval (10 s) made a dead leader's machine take 10 s to replace while
    /// any other dead machine took `machine_ttl`. `disable_watches` turns the store watch off.
    public init(config: FleetConfig, machineID: String) {
        let interval = max(0.1, config.engineReconcileInterval)
        let (seconds, attoseconds) = (config.engineLeaseTTL ?? config.machineTTL).components
        self.init(
            machineID: machineID, leaseTTL: Int(seconds) + (attoseconds > 0 ? 1 : 0),
            safetyInterval: .milliseconds(Int(interval * 1000) * Self.safetyPassesPerInterval))
        self.watch = !config.disableWatches
    }

    /// The safety pass runs every this many `engine_reconcile_interval`s.
    public static let safetyPassesPerInterval = 15

    /// How often the lease is renewed (or, when not held, re-checked): a third of the TTL.
    public var leaseTickInterval: Duration {
        .milliseconds(max(200, leaseTTL * 1000 / 3))
    }
}
