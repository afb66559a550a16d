import Logging
import Synchronization

/// The cluster scheduler: while it holds the leader lease, makes `job/<u>/target` match what
/// ``Scheduler/plan(machines:units:schedule:policy:)`` decides for the current registry.
///
/// Differences from fleet's engine, each fixing a reported failure:
/// * **Event-driven and incremental.** A continuous watch of the prefix keeps the engine's
///   ``EngineModel`` current and wakes the loop (debounced, no 1 s sleep; a lost machine at once), so
///   a submitted unit is placed in milliseconds and an event pass reads nothing; a periodic safety
///   pass re-reads everything and compares it with the model, rebuilding it (and planning) only if
///   they differ or the model's last plan wanted writes.
/// * **One consistent read.** A full pass plans from one recursive quorum GET of the prefix.
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
    private let wake: WakeSignal
    /// While leader (and watching): the registry model kept current by the prefix watch.
    private let feed: EngineModelFeed
    /// Whether full passes hand their model to ``feed`` (only inside ``run()`` with watches on).
    private var following = false
    /// This tenure's writes not yet seen in the model: unit → the target it wrote (nil: removed). An
    /// event pass waits until the model shows them all.
    private var pendingTargets: [String: String?] = [:]
    /// While another engine leads: watches the lease key and wakes the loop when it is removed.
    private var standbyWatcher: Task<Void, Never>?
    private var holdingSince: ContinuousClock.Instant?
    /// The last plan, if it wanted no writes (no holds, no orphans) and was made from the followed
    /// model as stamped: a safety pass that finds that model in agreement with the store reuses it.
    private var settled: (stamp: EngineModelFeed.ModelStamp, decisions: [Decision])?
    /// What the passes of this engine did (reads, checks, rebuilds, plans skipped).
    public private(set) var statistics = EngineStatistics()
    private var lastUnschedulable: Set<String> = []
    private var wasLeader = false
    /// When the lease was last taken, renewed or checked (``LeaderLease/tick()`` returned).
    private var lastLeaseTick = ContinuousClock.now

    public init(registry: Registry, configuration: EngineConfiguration, logger: Logger = Logger(label: "fleet.engine")) {
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.lease = LeaderLease(
            store: registry.store, key: registry.keys.engineLease, holderID: configuration.machineID,
            ttlSeconds: configuration.leaseTTL, version: configuration.version)
        let wake = WakeSignal()
        self.wake = wake
        self.feed = EngineModelFeed(store: registry.store, keys: registry.keys, wake: wake, logger: logger)
    }

    // MARK: - One pass

    /// Takes or renews the lease and, only if held, reads the registry, plans and writes the
    /// decisions in order. Never throws: store failures end the pass with nothing written.
    @discardableResult
    public func reconcileOnce() async -> ReconcileOutcome { await reconcile(full: true) }

    /// One pass. `full` reads the whole registry (and, inside ``run()``, rebuilds the followed
    /// model from it); otherwise the pass plans from the followed model when there is one that has
    /// caught up with this engine's own writes, and falls back to a full read when there is not.
    func reconcile(full: Bool) async -> ReconcileOutcome {
        let epoch: UInt64
        let state = await lease.tick()
        lastLeaseTick = .now
        switch state {
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
        let stamp: EngineModelFeed.ModelStamp?
        if !full, let (current, currentStamp) = await modelSnapshot() {
            (snapshot, stamp) = (current, currentStamp)
            statistics.eventPasses += 1
        } else {
            let read: (node: StoreNode?, index: UInt64)
            do throws(RegistryError) {
                read = try await registry.read(registry.keys.prefix, "read registry snapshot", quorum: true)
            } catch {
                logger.warning("engine cannot read the registry, keeping every placement: \(error)")
                return .storeUnavailable(error.description)
            }
            statistics.fullReads += 1
            // The read holds every write made so far.
            pendingTargets = [:]
            switch following ? feed.check(against: read.node) : .noModel {
            case .matches(let checked):
                statistics.modelsConfirmed += 1
                if let settled, settled.stamp == checked {
                    // The same plan inputs as a plan that wanted no writes: planning again would
                    // give the same decisions (``Scheduler/plan`` is deterministic), so skip it.
                    statistics.plansSkipped += 1
                    logger.debug("safety pass: the model matches the store and its plan wants no writes")
                    return .reconciled(ReconcileReport(
                        snapshotIndex: read.index, decisions: settled.decisions, executed: [], stopped: nil))
                }
                if case .current(let current, let currentStamp) = feed.snapshot(showing: [:]) {
                    (snapshot, stamp) = (current, currentStamp)
                } else {
                    (snapshot, stamp) = rebuild(from: read)
                }
            case .diverged(let divergence):
                statistics.modelRebuilds += 1
                logger.warning("engine model disagreed with the store (\(divergence)); rebuilding it from the read")
                (snapshot, stamp) = rebuild(from: read)
            case .noModel:
                (snapshot, stamp) = rebuild(from: read)
            }
            for problem in snapshot.problems { logger.warning("skipping unreadable record: \(problem)") }
        }

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
        let holds = decisions.contains { if case .hold = $0.action { return true } else { return false } }
        // A plan over a followed model that wanted no writes: until that model changes, safety passes
        // that find it in agreement with the store need not plan again.
        if let stamp, writes.isEmpty, !holds, snapshot.orphanTargets.isEmpty, report.stopped == nil {
            settled = (stamp, decisions)
        } else {
            settled = nil
        }
        if let stopped = report.stopped { logger.warning("engine stopped writing: \(stopped)") }
        if following {
            for decision in report.executed {
                switch decision.action {
                case .schedule(let machine): pendingTargets[decision.unit] = .some(machine)
                case .unschedule: pendingTargets[decision.unit] = .some(nil)
                case .unschedulable, .hold: continue
                }
            }
            for unit in report.orphansRemoved { pendingTargets[unit] = .some(nil) }
        }

        let elapsed = ContinuousClock.now - started
        let message: Logger.Message =
            "Engine completed reconciliation in \(elapsed) (\(report.executed.count) of \(writes.count) writes)"
        if elapsed > configuration.leaseTickInterval { logger.warning(message) } else { logger.debug(message) }
        return .reconciled(report)
    }

    /// A model built from one full read of the prefix (decoding every record) and its snapshot;
    /// inside ``run()`` the model is then followed (watched from the read's index + 1) so later event
    /// passes need no read, and the stamp names it.
    private func rebuild(from read: (node: StoreNode?, index: UInt64)) -> (RegistrySnapshot, EngineModelFeed.ModelStamp?) {
        var model = EngineModel(leaves: read.node?.leaves ?? [], index: read.index, keys: registry.keys)
        let snapshot = model.snapshot()
        guard following else { return (snapshot, nil) }
        do { return (snapshot, try feed.follow(model)) } catch {
            logger.warning("engine cannot watch the registry, planning from full reads: \(error)")
            return (snapshot, nil)
        }
    }

    /// The followed model's snapshot once it shows this engine's own writes (waiting up to a lease
    /// tick for the watch to deliver them), or nil: the pass then reads everything. Waiting on the
    /// written values rather than on a store index, because TTL refreshes advance the store's index
    /// without any watch event, so a model can be current while its index trails the store's.
    private func modelSnapshot() async -> (RegistrySnapshot, EngineModelFeed.ModelStamp)? {
        let deadline = ContinuousClock.now + configuration.leaseTickInterval
        while true {
            switch feed.snapshot(showing: pendingTargets) {
            case .noModel: return nil
            case .current(let snapshot, let stamp):
                pendingTargets = [:]
                return (snapshot, stamp)
            case .behind:
                if ContinuousClock.now >= deadline { return nil }
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
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

    /// Writes `writes` wave by wave (``WriteWaves``); a wave's per-unit chains go out concurrently (at
    /// most ``EngineConfiguration/writeConcurrency`` in flight), in batches of about
    /// ``EngineConfiguration/batchSize`` writes that each start with a lease renewal, each write only
    /// while the lease is still valid. Stops at the end of the batch in which a write failed, or as
    /// soon as the lease may have run out. Returns why it stopped early, if it did.
    private func execute(_ writes: [Decision], epoch: UInt64, into executed: inout [Decision]) async
        -> ReconcileReport.StopReason?
    {
        for wave in WriteWaves.chains(writes) {
            var next = 0
            while next < wave.count {
                let renewal = await lease.tick()
                guard case .held(let renewedEpoch) = renewal, renewedEpoch == epoch else {
                    return .leaseLost("renewal before writing answered \(renewal)")
                }
                var end = next, size = 0
                while end < wave.count, size == 0 || size + wave[end].steps.count <= configuration.batchSize {
                    size += wave[end].steps.count
                    end += 1
                }
                let outcomes = await write(Array(wave[next..<end]), epoch: epoch).sorted { $0.index < $1.index }
                var stop: ReconcileReport.StopReason?
                for (_, decision, outcome) in outcomes {
                    switch outcome {
                    case .written:
                        executed.append(decision)
                        logger.info("\(decision)")
                    case .failed(let why): stop = stop ?? why
                    case .skipped: continue
                    }
                }
                if let stop { return stop }
                next = end
            }
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

    /// Writes chains concurrently, each chain's steps in order. After the first failure, writes not
    /// yet sent are skipped (the lease may be gone, or the registry changed under the plan).
    private func write(_ chains: [WriteWaves.Chain], epoch: UInt64) async
        -> [(index: Int, decision: Decision, outcome: WriteOutcome)]
    {
        let registry = self.registry
        let lease = self.lease
        let halted = Mutex(false)
        let results = await BoundedConcurrency.map(chains, limit: configuration.writeConcurrency) {
            chain -> [(index: Int, decision: Decision, outcome: WriteOutcome)] in
            var out: [(index: Int, decision: Decision, outcome: WriteOutcome)] = []
            var step = 0
            while step < chain.steps.count {
                let (index, decision) = chain.steps[step]
                // An unschedule followed by a schedule of the same unit is one compare-and-swap.
                var second: (index: Int, decision: Decision)?
                if case .unschedule = decision.action, step + 1 < chain.steps.count,
                    case .schedule = chain.steps[step + 1].decision.action
                {
                    second = chain.steps[step + 1]
                }
                step += second == nil ? 1 : 2
                if halted.withLock({ $0 }) {
                    out.append((index, decision, .skipped))
                    if let second { out.append((second.index, second.decision, .skipped)) }
                    continue
                }
                guard lease.currentEpoch == epoch else {
                    halted.withLock { $0 = true }
                    let why = "the lease may have expired in the store before the write of \(decision.unit)"
                    out.append((index, decision, .failed(.leaseLost(why))))
                    if let second { out.append((second.index, second.decision, .skipped)) }
                    continue
                }
                do throws(RegistryError) {
                    switch (decision.action, second?.decision.action) {
                    case (.unschedule(let from), .schedule(let to)?):
                        try await registry.reschedule(decision.unit, from: from, to: to)
                    case (.schedule(let machine), _): try await registry.schedule(decision.unit, on: machine)
                    case (.unschedule(let machine), _): try await registry.unschedule(decision.unit, from: machine)
                    case (.unschedulable, _), (.hold, _): break
                    }
                    out.append((index, decision, .written))
                    if let second { out.append((second.index, second.decision, .written)) }
                } catch {
                    halted.withLock { $0 = true }
                    out.append((index, decision, .failed(error.isUnavailable ? .storeUnavailable(error) : .conflict(error))))
                    if let second { out.append((second.index, second.decision, .skipped)) }
                }
            }
            return out
        }
        return results.flatMap { $0 }
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
        following = configuration.watch
        var full = true
        var lastFull = ContinuousClock.now
        while !Task.isCancelled {
            let passStart = ContinuousClock.now
            let outcome = await reconcile(full: full || !configuration.incremental)
            if full { lastFull = passStart }
            // A pass over a large registry is costly (about 0.5 s of CPU at 10,000 units): during a
            // burst of events the next pass waits at least twice as long as this one took, so event
            // passes use at most about a third of a core however long the burst lasts.
            // Only the pass's own work counts, not the wait for the lease: a store electing its
            // leader held the first take of a cluster's boot ~1 s, and its first unit then waited 2 s.
            let work = ContinuousClock.now - max(passStart, lastLeaseTick)
            let settle = max(configuration.debounce, min(work * 2, .seconds(2)))
            let leader: Bool
            var finished = false
            if case .reconciled(let report) = outcome {
                leader = true
                finished = report.stopped == nil
            } else {
                leader = false
                stopWatching()
                if case .notLeader = outcome, configuration.watch { watchLeaseAsStandby() }
            }
            // A pass cut short (store trouble, conflict) is retried soon, not at the next safety pass.
            let nextPass = finished
                ? lastFull + configuration.safetyInterval : ContinuousClock.now + configuration.leaseTickInterval
            let tenure = lease.currentEpoch
            var woken = false
            // Between passes: renew the lease on time and wake early for store events.
            while !Task.isCancelled {
                let now = ContinuousClock.now
                if now >= nextPass { break }
                let deadline = min(nextPass, now + configuration.leaseTickInterval)
                if await wake.wait(timeout: deadline - now) {
                    woken = true
                    // A lost machine is acted on at once; other bursts are let settle into one pass.
                    if !feed.takeUrgent() { await settleRenewingLease(settle) }
                    break
                }
                if Task.isCancelled || ContinuousClock.now >= nextPass || !leader { break }
                // Lost, or lost and retaken (a new tenure must re-plan: another leader may have acted).
                let state = await lease.tick()
                lastLeaseTick = .now
                guard case .held(let epoch) = state, epoch == tenure else { break }
            }
            // Event passes plan from the followed model; the periodic pass, a retry, and a pass after
            // leadership changed read everything (and rebuild the model).
            full = !woken || !leader || !finished || ContinuousClock.now - lastFull >= configuration.safetyInterval
        }
        following = false
        await resign()
        logger.info("engine \(configuration.machineID) stopped")
    }

    /// Waits `duration` for a burst of events to settle, renewing the lease whenever a renewal falls
    /// due meanwhile: a settle of up to 2 s after a slow pass, with no renewal, outlasted a 3 s
    /// lease (renewed every second, counted valid for 2.45 s after each). A lease found lost here
    /// is noticed by the next pass's own tick.
    private func settleRenewingLease(_ duration: Duration) async {
        let end = ContinuousClock.now + duration
        while !Task.isCancelled {
            let renewal = lastLeaseTick + configuration.leaseTickInterval
            guard renewal < end else {
                try? await Task.sleep(until: end, clock: .continuous)
                return
            }
            try? await Task.sleep(until: renewal, clock: .continuous)
            _ = await lease.tick()
            lastLeaseTick = .now
        }
    }

    /// Stops watching and gives up the lease (if held) so another engine can lead at once.
    public func resign() async {
        stopWatching()
        stopStandbyWatch()
        wasLeader = false
        await lease.release()
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
        feed.stop()
        pendingTargets = [:]
        settled = nil
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
}
