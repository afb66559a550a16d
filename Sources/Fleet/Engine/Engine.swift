import Logging
import Synchronization

/// The cluster scheduler: while it holds the leader lease, makes `job/<u>/target` match what
/// ``Scheduler/plan(machines:units:schedule:policy:)`` decides for the current registry.
///
/// Differences from fleet's engine, each fixing a reported failure:
/// * **Event-driven.** A recursive watch of the prefix wakes the loop (debounced, no 1 s sleep), so a
///   submitted unit is placed in milliseconds; a periodic safety pass covers a lost watch.
/// * **One consistent read.** Each pass plans from one recursive GET (``Registry/snapshot(quorum:)``).
/// * **Fenced writes.** The lease is renewed right before each batch of writes, and each write goes
///   out only while the lease cannot have expired in the store; a deposed or partitioned leader
///   stops mid-batch instead of fighting the new one.
/// * **Store trouble moves nothing.** Any store error aborts the pass with no writes; the only
///   machine loss the engine believes is an expired (or deleted) presence key, and even that is
///   held for ``EngineConfiguration/massLossGrace`` when many machines vanish at once (fleet #373,
///   #1289, #1690).
public actor Engine {
    public nonisolated let registry: Registry
    public nonisolated let configuration: EngineConfiguration
    /// The leader lease this engine competes for (`lease/engine-leader`).
    public nonisolated let lease: LeaderLease
    private let logger: Logger
    private let wake = WakeSignal()
    private var watcher: Task<Void, Never>?
    /// While another engine leads: watches the lease key and wakes the loop when it is removed.
    private var standbyWatcher: Task<Void, Never>?
    private var holdingSince: ContinuousClock.Instant?
    private var lastUnschedulable: Set<String> = []
    private var wasLeader = false

    public init(registry: Registry, configuration: EngineConfiguration, logger: Logger = Logger(label: "fleet.engine")) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.lease = LeaderLease(
            store: registry.store, key: registry.keys.engineLease, holderID: configuration.machineID,
            ttlSeconds: configuration.leaseTTL, version: configuration.version)
    }

    // MARK: - One pass

    /// Takes or renews the lease and, only if held, reads the registry, plans and writes the
    /// decisions in order. Never throws: store failures end the pass with nothing written.
    @discardableResult
    public func reconcileOnce() async -> ReconcileOutcome {
        let epoch: UInt64
        switch await lease.tick() {
        case .heldBy(let holder):
            noteLeadership(false, holder: holder)
            return .notLeader(holder: holder)
        case .unknown(let why):
            noteLeadership(false, holder: nil)
            logger.warning("engine lease unknown, not reconciling: \(why)")
            return .storeUnavailable(why)
        case .held(let e):
            epoch = e
            noteLeadership(true, holder: configuration.machineID)
        }

        let started = ContinuousClock.now
        let snapshot: RegistrySnapshot
        do throws(RegistryError) {
            snapshot = try await registry.snapshot()
        } catch {
            logger.warning("engine cannot read the registry, keeping every placement: \(error)")
            return .storeUnavailable(error.description)
        }
        for problem in snapshot.problems { logger.warning("skipping unreadable record: \(problem)") }

        let decisions = plan(snapshot)
        logPlan(decisions)
        var report = ReconcileReport(snapshotIndex: snapshot.index, decisions: decisions, executed: [], stopped: nil)
        let writes = decisions.filter {
            switch $0.action {
            case .schedule, .unschedule: return true
            case .unschedulable, .hold: return false
            }
        }
        report.stopped = await execute(writes, epoch: epoch, into: &report.executed)
        if report.stopped == nil, !snapshot.orphanTargets.isEmpty {
            report.stopped = await removeOrphans(snapshot.orphanTargets, epoch: epoch, into: &report.orphansRemoved)
        }
        if let stopped = report.stopped { logger.warning("engine stopped writing: \(stopped)") }

        let elapsed = ContinuousClock.now - started
        let message: Logger.Message =
            "Engine completed reconciliation in \(elapsed) (\(report.executed.count) of \(writes.count) writes)"
        if elapsed > configuration.leaseTickInterval { logger.warning(message) } else { logger.debug(message) }
        return .reconciled(report)
    }

    /// Plans, holding a mass machine loss until it has lasted ``EngineConfiguration/massLossGrace``.
    private func plan(_ snapshot: RegistrySnapshot) -> [Decision] {
        let machines = snapshot.machines.map { SchedulerMachine($0) }
        let units = snapshot.units.map { SchedulerUnit($0.unit) }
        let schedule = snapshot.schedule
        let decisions = Scheduler.plan(machines: machines, units: units, schedule: schedule, policy: configuration.policy)
        let holds = decisions.contains { if case .hold = $0.action { return true } else { return false } }
        guard holds else {
            holdingSince = nil
            return decisions
        }
        let now = ContinuousClock.now
        let since = holdingSince ?? now
        holdingSince = since
        guard let grace = configuration.massLossGrace, now - since >= grace else { return decisions }
        logger.warning("machines have been missing for \(now - since); believing the loss and rescheduling their units")
        return Scheduler.plan(machines: machines, units: units, schedule: schedule, policy: .fleet)
    }

    /// Writes `writes` in batches that each start with a lease renewal; within a batch the writes of
    /// each ``WriteWaves`` wave go out concurrently (at most ``EngineConfiguration/writeConcurrency``
    /// in flight), each only while the lease is still valid. Stops at the end of the wave in which a
    /// write failed, or as soon as the lease may have run out. Returns why it stopped early, if it did.
    private func execute(_ writes: [Decision], epoch: UInt64, into executed: inout [Decision]) async
        -> ReconcileReport.StopReason?
    {
        var next = 0
        while next < writes.count {
            let renewal = await lease.tick()
            guard case .held(let renewedEpoch) = renewal, renewedEpoch == epoch else {
                return .leaseLost("renewal before writing answered \(renewal)")
            }
            let end = min(next + configuration.batchSize, writes.count)
            for wave in WriteWaves.split(Array(writes[next..<end])) {
                let outcomes = await write(wave, epoch: epoch)
                var stop: ReconcileReport.StopReason?
                for (decision, outcome) in zip(wave, outcomes) {
                    switch outcome {
                    case .written:
                        executed.append(decision)
                        logger.info("\(decision)")
                    case .failed(let why): stop = stop ?? why
                    case .skipped: continue
                    }
                }
                if let stop { return stop }
            }
            next = end
        }
        return nil
    }

    /// How one write of a wave ended.
    private enum WriteOutcome: Sendable {
        case written
        case failed(ReconcileReport.StopReason)
        /// Not sent: another write of the wave had failed already.
        case skipped
    }

    /// Writes one wave concurrently. After the first failure, writes not yet sent are skipped (the
    /// lease may be gone, or the registry changed under the plan).
    private func write(_ wave: [Decision], epoch: UInt64) async -> [WriteOutcome] {
        let registry = self.registry
        let lease = self.lease
        let halted = Mutex(false)
        return await BoundedConcurrency.map(wave, limit: configuration.writeConcurrency) {
            decision -> WriteOutcome in
            if halted.withLock({ $0 }) { return .skipped }
            guard lease.currentEpoch == epoch else {
                halted.withLock { $0 = true }
                return .failed(.leaseLost("the lease may have expired in the store before the write of \(decision.unit)"))
            }
            do throws(RegistryError) {
                switch decision.action {
                case .schedule(let machine): try await registry.schedule(decision.unit, on: machine)
                case .unschedule(let machine): try await registry.unschedule(decision.unit, from: machine)
                case .unschedulable, .hold: break
                }
                return .written
            } catch {
                halted.withLock { $0 = true }
                return .failed(error.isUnavailable ? .storeUnavailable(error) : .conflict(error))
            }
        }
    }

    /// Deletes schedule entries of destroyed units (compare-and-delete on the machine, fenced like
    /// every other write). An entry that changed meanwhile is left for the next pass.
    private func removeOrphans(_ orphans: [String: String], epoch: UInt64, into removed: inout [String]) async
        -> ReconcileReport.StopReason?
    {
        let renewal = await lease.tick()
        guard case .held(let renewedEpoch) = renewal, renewedEpoch == epoch else {
            return .leaseLost("renewal before removing stale schedule entries answered \(renewal)")
        }
        for unit in orphans.keys.sorted() {
            guard lease.currentEpoch == epoch else {
                return .leaseLost("the lease may have expired in the store before removing \(unit)'s schedule")
            }
            do throws(RegistryError) {
                try await registry.unschedule(unit, from: orphans[unit]!)
                removed.append(unit)
                logger.info("removed stale schedule entry of destroyed unit \(unit) on \(orphans[unit]!)")
            } catch {
                if error.isUnavailable { return .storeUnavailable(error) }
            }
        }
        return nil
    }

    private func logPlan(_ decisions: [Decision]) {
        var unschedulable: Set<String> = []
        for decision in decisions {
            switch decision.action {
            case .hold: logger.warning("\(decision)")
            case .unschedulable:
                unschedulable.insert(decision.unit)
                if !lastUnschedulable.contains(decision.unit) { logger.info("\(decision)") }
            case .schedule, .unschedule: continue
            }
        }
        lastUnschedulable = unschedulable
    }

    private func noteLeadership(_ leader: Bool, holder: String?) {
        guard leader != wasLeader else { return }
        wasLeader = leader
        if leader {
            stopStandbyWatch()
            logger.info("engine \(configuration.machineID) became the leader")
        } else {
            logger.info("engine \(configuration.machineID) is not the leader (holder: \(holder ?? "unknown"))")
            stopWatching()
            // A later tenure judges a mass loss afresh.
            holdingSince = nil
        }
    }

    // MARK: - Loop

    /// Runs until the task is cancelled: competes for the lease every ``EngineConfiguration/leaseTickInterval``,
    /// and while leader reconciles on store events (debounced) and every
    /// ``EngineConfiguration/safetyInterval``. On cancellation it releases the lease so another
    /// engine takes over at once.
    public func run() async {
        logger.info("engine \(configuration.machineID) starting (lease TTL \(configuration.leaseTTL) s)")
        while !Task.isCancelled {
            let passStart = ContinuousClock.now
            let outcome = await reconcileOnce()
            // A pass over a large registry is costly (about 0.5 s of CPU at 10,000 units): during a
            // burst of events the next pass waits at least twice as long as this one took, so event
            // passes use at most about a third of a core however long the burst lasts.
            let settle = max(configuration.debounce, min((ContinuousClock.now - passStart) * 2, .seconds(2)))
            let leader: Bool
            var finished = false
            if case .reconciled(let report) = outcome {
                leader = true
                finished = report.stopped == nil
                if watcher == nil, configuration.watch { startWatching(from: report.snapshotIndex + 1) }
            } else {
                leader = false
                stopWatching()
                if case .notLeader = outcome, configuration.watch { watchLeaseAsStandby() }
            }
            // A pass cut short (store trouble, conflict) is retried soon, not at the next safety pass.
            let pause = finished ? configuration.safetyInterval : configuration.leaseTickInterval
            let nextPass = ContinuousClock.now + pause
            let tenure = lease.currentEpoch
            // Between passes: renew the lease on time and wake early for store events.
            while !Task.isCancelled {
                let now = ContinuousClock.now
                if now >= nextPass { break }
                let deadline = min(nextPass, now + configuration.leaseTickInterval)
                if await wake.wait(timeout: deadline - now) {
                    try? await Task.sleep(for: settle)
                    break
                }
                if Task.isCancelled || ContinuousClock.now >= nextPass || !leader { break }
                // Lost, or lost and retaken (a new tenure must re-plan: another leader may have acted).
                guard case .held(let epoch) = await lease.tick(), epoch == tenure else { break }
            }
        }
        await resign()
        logger.info("engine \(configuration.machineID) stopped")
    }

    /// Stops watching and gives up the lease (if held) so another engine can lead at once.
    public func resign() async {
        stopWatching()
        stopStandbyWatch()
        wasLeader = false
        await lease.release()
    }

    /// Watches the whole prefix from `index` and wakes the loop for changes that can alter a plan.
    private func startWatching(from index: UInt64) {
        let keys = registry.keys
        let wake = self.wake
        watcher = Self.watch(
            registry.store, String(keys.prefix.dropLast()), recursive: true, from: index, logger: logger, what: "engine"
        ) { event in
            if event.map({ Engine.affectsPlan($0.node.key, keys: keys) }) ?? true { wake.notify() }
        }
    }

    /// A detached task that long-polls `key` from `index` on, calling `changed` with each event, or
    /// with nil when events were missed (history cleared), until cancelled; failures are retried
    /// with a backoff (100 ms doubling to 5 s). A store long-poll cannot be interrupted, so a
    /// cancelled watch's last request simply ends with the next change or connection close.
    private static func watch(
        _ store: any StoreClient, _ key: String, recursive: Bool, from index: UInt64, logger: Logger, what: String,
        changed: @escaping @Sendable (StoreWatchEvent?) -> Void
    ) -> Task<Void, Never> {
        Task.detached {
            var next = index
            var backoff = Duration.milliseconds(100)
            while !Task.isCancelled {
                do {
                    let event = try await store.waitForChange(key, recursive: recursive, fromIndex: next)
                    next = max(next, event.node.modifiedIndex + 1)
                    backoff = .milliseconds(100)
                    if !Task.isCancelled { changed(event) }
                } catch StoreClientError.historyCleared(let current) {
                    // Events were missed: the caller re-reads; watch on from now.
                    next = current + 1
                    if !Task.isCancelled { changed(nil) }
                } catch {
                    if Task.isCancelled { break }
                    logger.debug("\(what) watch failed, retrying in \(backoff): \(error)")
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                }
            }
        }
    }

    private func stopWatching() {
        watcher?.cancel()
        watcher = nil
    }

    /// While another engine holds the lease, watches the lease key from the index last seen and wakes
    /// the loop when the key is removed (expired with its dead holder, or released), so this engine
    /// competes at once instead of at its next tick (up to a third of the TTL later). Renewals do not
    /// wake it. One watch at a time; it ends when this engine leads or resigns.
    private func watchLeaseAsStandby() {
        guard standbyWatcher == nil, lease.observedIndex > 0 else { return }
        let wake = self.wake
        standbyWatcher = Self.watch(
            registry.store, lease.key, recursive: false, from: lease.observedIndex + 1, logger: logger,
            what: "engine lease"
        ) { event in
            if event?.isRemoval ?? true { wake.notify() }
        }
    }

    private func stopStandbyWatch() {
        standbyWatcher?.cancel()
        standbyWatcher = nil
    }

    /// Whether a change to `key` can change the plan: machines, units, desired states and the
    /// schedule. Unit states, heartbeats and the lease churn constantly and never affect placement.
    static func affectsPlan(_ key: String, keys: RegistryKeyLayout) -> Bool {
        guard key.hasPrefix(keys.prefix) else { return false }
        let rest = key.dropFirst(keys.prefix.count)
        if rest.hasPrefix("machines/") || rest == "machines" { return true }
        if rest.hasPrefix("job/") || rest == "job" { return !rest.hasSuffix("/job-state") }
        return false
    }
}
