import Logging

/// The fleet agent of one machine: keeps systemd running what the cluster schedules here and tells
/// the cluster what systemd is doing.
///
/// * Reconciles on every change notification of the ``AgentSource`` and every
///   ``AgentConfiguration/reconcileInterval``; passes never overlap (a request during a pass runs one
///   more pass after it).
/// * Learns unit state changes from ``UnitManager/events()`` (no polling) and publishes only what
///   changed, at once; every ``AgentConfiguration/republishInterval`` it republishes everything.
/// * While the source is unreachable nothing is stopped or unloaded: units keep running and the
///   next pass retries (fleet #373, #1119).
/// * At start-up it adopts the unit files already present (hashing them when the manager is
///   ``UnitFileReading``); the first successful pass unloads the stale ones and rewrites changed ones.
public actor Agent {
    public let machine: MachineState
    public let source: any AgentSource
    public let units: any UnitManager
    public let configuration: AgentConfiguration
    private let logger: Logger
    private let executor: AgentExecutor

    /// What the agent has done to systemd.
    public private(set) var local = LocalUnitState()
    /// systemd's last known state of each local unit.
    public private(set) var systemdStates: [String: UnitState] = [:]
    private var publisher: UnitStatePublisher
    private var started = false
    private var reconciling = false
    private var reconcileRequested = false
    private var publishing = false
    private var publishRequested = false
    private var purging = false
    /// The launched set last heartbeated successfully; nil forces the next heartbeat.
    private var heartbeated: Set<String>?
    /// Counts state-change events; `changedAt[unit]` is the count when the unit last changed, so a
    /// systemd query that was in flight meanwhile does not overwrite the newer state.
    private(set) var eventCount: UInt64 = 0
    private var changedAt: [String: UInt64] = [:]
    /// The units the running pass loads. Their events are applied while the pass still executes:
    /// before, a survivor dropped the events of the dead machine's units it was starting (not local
    /// yet) and learnt their states only from the query after the pass.
    private var loading: Set<String> = []
    /// While ``run()`` follows systemd's events, a pass reads back the units no event reported beside
    /// the next passes rather than before returning (their events publish them meanwhile).
    private var following = false
    /// While a pass that issued a daemon-reload has not yet read back the states of its units, the
    /// end-of-reload signal does not trigger a refresh of every local unit.
    private var ownReloadPending = false
    /// A renewing heartbeat failed: the next heartbeat renews every launched unit.
    private var renewPending = false
    /// When the latest change notification arrived (see ``ChangeCoalescing``).
    private var lastChange: ContinuousClock.Instant?

    public init(
        machine: MachineState, source: any AgentSource, units: any UnitManager,
        configuration: AgentConfiguration = AgentConfiguration(), logger: Logger = Logger(label: "fleet.agent")
    ) {
        self.machine = machine
        self.source = source
        self.units = units
        self.configuration = configuration
        self.logger = logger
        self.executor = AgentExecutor(units: units, logger: logger)
        self.publisher = UnitStatePublisher(machine: machine)
    }

    /// The states the cluster holds from this agent, as far as it knows.
    public var published: [String: UnitStateRecord] { publisher.published }

    // MARK: Start-up

    /// Adopts the unit files already in the units directory (idempotent). A file systemd does not
    /// know yet marks a reload pending; a unit systemd reports active counts as launched, so an agent
    /// restart does not restart anything.
    public func start() async throws(AgentError) {
        guard !started else { return }
        let names: [String]
        let states: [String: UnitState]
        do {
            names = try await units.units()
            states = names.isEmpty ? [:] : try await units.unitStates(names)
        } catch {
            throw .systemdUnavailable(String(describing: error))
        }
        var adopted = LocalUnitState()
        for name in names {
            var hash: UnitHash?
            if let reader = units as? any UnitFileReading, let text = try? await reader.unitFileContents(name),
                let file = try? UnitFile(parsing: text)
            {
                hash = file.hash
            }
            adopted.files[name] = LocalUnitState.File(hash: hash)
            let state = states[name]
            if state?.loadState != .loaded { adopted.reloadPending = true }
            if let active = state?.activeState, [.active, .activating, .reloading].contains(active) {
                adopted.launched.insert(name)
            }
        }
        local = adopted
        systemdStates = states
        started = true
        if !names.isEmpty { logger.info("adopted \(names.count) unit file(s): \(names.joined(separator: " "))") }
    }

    // MARK: Reconciling

    /// One pass: read the desired units, plan, execute, refresh and publish states. Returns nil when a
    /// pass is already running (it will run once more afterwards instead). Never stops or unloads
    /// anything when the source fails.
    @discardableResult
    public func reconcileOnce() async -> AgentExecutor.Result? {
        if reconciling {
            reconcileRequested = true
            return nil
        }
        reconciling = true
        defer { reconciling = false }
        var result = await pass()
        while reconcileRequested {
            reconcileRequested = false
            result = await pass()
        }
        return result
    }

    private func pass() async -> AgentExecutor.Result {
        var result = AgentExecutor.Result()
        guard !purging else { return result }
        if !started {
            do { try await start() } catch {
                logger.error("\(error)")
                result.failures.append(error)
                return result
            }
        }
        let desired: [DesiredUnit]
        do {
            desired = try await source.desiredUnits(for: machine)
        } catch {
            let failure = AgentError.sourceUnavailable(String(describing: error))
            logger.warning("\(failure)")
            result.failures.append(failure)
            return result
        }
        let tasks = AgentReconciler.plan(desired: desired, current: local)
        guard !tasks.isEmpty else {
            // Retries a publish or heartbeat that failed earlier; no I/O when nothing changed.
            await publishChanges()
            await heartbeat()
            return result
        }
        let clock = ContinuousClock()
        var state = local
        // The end of this pass's own daemon-reload needs no refresh of every local unit: the units
        // the pass touched are read below, the others' files did not change.
        let reloads = tasks.contains { $0.kind == .reloadUnitFiles }
        if reloads { ownReloadPending = true }
        let mark = eventCount
        // Events for the units this pass loads count from now on, not only once the pass is over.
        loading = Set(tasks.filter { $0.kind == .load }.compactMap(\.unit))
        let executed = await clock.measure { result = await executor.execute(tasks, state: &state) }
        local = state
        loading = []
        systemdStates = systemdStates.filter { local.files[$0.key] != nil }
        // Only the units this pass changed: the others' states arrive as systemd events. (Reading
        // every local unit after each pass cost O(units) bus calls per pass: 250 units on a worker
        // starting them in ~25 passes meant thousands of calls, 1.3 s per pass at the end.) Of those,
        // only the ones whose outcome no event has reported yet (see ``reported(_:since:after:)``).
        var lastTask: [String: AgentTask.Kind] = [:]
        for task in tasks { if let unit = task.unit { lastTask[unit] = task.kind } }
        let touched = lastTask.filter { unit, kind in
            local.files[unit] != nil && !reported(unit, since: mark, after: kind)
        }.keys.sorted()
        let refreshed: Duration
        if following && !touched.isEmpty {
            // systemd answers that query only once it has run the jobs just queued (0.3-1 s on a
            // survivor starting a dead machine's units), and the next pass, with the rest of them,
            // would wait for it: read back beside the passes instead, and publish what it finds.
            refreshed = .zero
            Task {
                await self.refreshStates(touched)
                if reloads { self.ownReloadPending = false }
                await self.publishChanges()
            }
        } else {
            refreshed = await clock.measure { await refreshStates(touched) }
            if reloads { ownReloadPending = false }
        }
        let published = await clock.measure { await publishChanges() }
        let heartbeated = await clock.measure { await heartbeat() }
        let total = executed + refreshed + published + heartbeated
        if tasks.count >= AgentExecutor.timingLogThreshold || total >= .seconds(1) {
            // Which phase of a busy pass dominates: systemd jobs, reading states back, or the store.
            logger.info(
                "pass: \(tasks.count) task(s) in \(executed), states read in \(refreshed), published in \(published), heartbeat in \(heartbeated)"
            )
        }
        return result
    }

    /// Heartbeats the launched units when the set changed since the last successful heartbeat, or
    /// always with `force` (the periodic refresh of their TTLs).
    public func heartbeat(force: Bool = false) async {
        let launched = local.launched
        guard force || heartbeated != launched else { return }
        // Only the forced (periodic) heartbeat renews every launched unit's TTL, or the next one
        // after a renewal failed; a change of the set writes only what changed.
        let renew = force || renewPending
        do {
            try await source.heartbeat(launched: launched.sorted(), renew: renew)
            heartbeated = launched
            if renew { renewPending = false }
        } catch {
            heartbeated = nil
            if renew { renewPending = true }
            logger.warning("cannot heartbeat launched units (\(error)); retrying on the next pass")
        }
    }

    /// Stops and unloads every unit this agent runs (on SIGTERM), in rounds until none is left or
    /// ``AgentConfiguration/purgeRounds`` is used up. Returns the units still loaded. Later passes do
    /// nothing, so a pass still running cannot load units again behind the purge.
    @discardableResult
    public func purge() async -> [String] {
        purging = true
        if !started { try? await start() }
        for round in 1...max(1, configuration.purgeRounds) {
            let tasks = AgentReconciler.purge(current: local)
            if tasks.isEmpty { break }
            var state = local
            let result = await executor.execute(tasks, state: &state, continueOnFailure: true)
            local = state
            if result.succeeded && local.files.isEmpty { break }
            if round < configuration.purgeRounds { try? await Task.sleep(for: configuration.purgePause) }
        }
        await refreshStates()
        await publishChanges()
        await heartbeat()
        return local.loadedUnits
    }

    // MARK: States

    /// Applies one systemd event and publishes what it changed before returning: a state change of a
    /// local unit is merged; the end of a daemon-reload refreshes every local unit (load states may
    /// have changed). ``run()`` applies events without waiting for the store (see ``apply(_:)``).
    public func handle(_ event: UnitEvent) async {
        if await apply(event) { await publishChanges() }
    }

    /// Merges one systemd event into ``systemdStates``; true when something may need publishing.
    /// Never waits on the store. A change naming all three states (systemd's `PropertiesChanged`
    /// for a unit always carries LoadState, ActiveState and SubState) is taken as is, also for a
    /// unit not known yet: before, the first event of each unit a pass had just started cost one
    /// `ListUnitsByNames` call to a systemd busy starting the others, in line with every later event.
    func apply(_ event: UnitEvent) async -> Bool {
        switch event {
        case .stateChanged(let change):
            guard local.files[change.unit] != nil || loading.contains(change.unit) else { return false }
            if var state = systemdStates[change.unit] {
                if let load = change.loadState { state.loadState = load }
                if let active = change.activeState { state.activeState = active }
                if let sub = change.subState { state.subState = sub }
                systemdStates[change.unit] = state
            } else if let load = change.loadState, let active = change.activeState, let sub = change.subState {
                systemdStates[change.unit] = UnitState(loadState: load, activeState: active, subState: sub)
            } else {
                // A unit the running pass is loading is read back after that pass anyway.
                guard local.files[change.unit] != nil else { return false }
                await refreshStates([change.unit])
                return true
            }
            eventCount += 1
            changedAt[change.unit] = eventCount
            return true
        case .jobRemoved(let job):
            if local.files[job.unit] != nil && job.result != .done {
                logger.warning("job for \(job.unit) ended: \(job.result)")
            }
            return false
        case .reloading(let active):
            // A reload a pass is doing itself: that pass reads the states it changed.
            guard !active && !ownReloadPending else { return false }
            await refreshStates()
            return true
        }
    }

    /// Whether an event applied after `mark` already shows the outcome of `kind`, the last task a
    /// pass ran on `unit`: a started unit activating or active, a stopped one inactive or failed, a
    /// loaded one loaded. Reading such a unit back after the pass only repeats what the event said,
    /// and on a survivor starting a dead machine's units that query waited 0.5-1 s behind systemd's
    /// start jobs while the next pass (the rest of the moved units) waited for it (bench-fleet
    /// 2026-11-24 15:18 UTC). A unit no event has reported this way is still read back.
    func reported(_ unit: String, since mark: UInt64, after kind: AgentTask.Kind) -> Bool {
        guard changedAt[unit, default: 0] > mark, let state = systemdStates[unit] else { return false }
        switch kind {
        case .start: return [.active, .activating, .reloading].contains(state.activeState)
        case .stop: return [.inactive, .failed].contains(state.activeState)
        case .load: return state.loadState == .loaded
        case .unload, .reloadUnitFiles: return false
        }
    }

    /// Asks systemd for the states of `names` (default: every local unit), dropping units no longer
    /// local. One call, made after passes that changed something and on full republishes only.
    private func refreshStates(_ names: [String]? = nil) async {
        let names = names ?? local.loadedUnits
        systemdStates = systemdStates.filter { local.files[$0.key] != nil }
        guard !names.isEmpty else { return }
        let asked = eventCount
        do {
            let states = try await units.unitStates(names)
            for (name, state) in states where local.files[name] != nil && changedAt[name, default: 0] <= asked {
                systemdStates[name] = state
            }
        } catch {
            logger.warning("\(AgentError.systemdUnavailable(String(describing: error)))")
        }
    }

    /// The records of every local unit whose hash and state are known.
    private var currentRecords: [String: UnitStateRecord] {
        var out: [String: UnitStateRecord] = [:]
        for (name, file) in local.files {
            guard let state = systemdStates[name], let record = publisher.record(for: state, hash: file.hash)
            else { continue }
            out[name] = record
        }
        return out
    }

    /// Publishes what changed since the last successful publish. Serialised: a call during a publish
    /// makes that publish run once more, so records are confirmed in the order they were written.
    public func publishChanges() async {
        await publish(full: false)
    }

    /// Refreshes states from systemd (a safety net for lost signals), publishes every record and
    /// heartbeats the launched units (refreshing their TTLs).
    public func republishAll() async {
        await refreshStates()
        await publish(full: true)
        await heartbeat(force: true)
    }

    private func publish(full: Bool) async {
        if publishing {
            publishRequested = true
            return
        }
        publishing = true
        defer { publishing = false }
        var full = full
        repeat {
            publishRequested = false
            let current = currentRecords
            let batch = full ? publisher.fullRepublish(current: current) : publisher.changes(current: current)
            full = false
            guard !batch.isEmpty else { continue }
            // Large batches (a pass that started 1,000 units) go out in slices, concurrently; each
            // slice is confirmed on its own, so a failed one is all the next publish repeats.
            let source = self.source
            let slices = stride(from: 0, to: batch.count, by: Self.publishSlice).map {
                Array(batch[$0..<min($0 + Self.publishSlice, batch.count)])
            }
            let failures = await BoundedConcurrency.map(slices) { slice -> String? in
                do {
                    try await source.publish(slice)
                    return nil
                } catch {
                    return String(describing: error)
                }
            }
            var failure: String?
            for (slice, failed) in zip(slices, failures) {
                if let failed { failure = failure ?? failed } else { publisher.confirm(slice) }
            }
            if let failure {
                logger.warning("\(AgentError.publishFailed(failure))")
                return
            }
            logger.debug("published \(batch.count) unit state(s)")
        } while publishRequested
    }

    /// Unit states per ``AgentSource/publish(_:)`` call when a batch is split; a batch this small is
    /// one call, as before. A source writes the units of one call one after another, so small slices
    /// (all in flight together, up to ``BoundedConcurrency/defaultLimit``) keep a survivor's 125 new
    /// states from queueing 16 deep behind each other.
    static let publishSlice = 4

    // MARK: Running

    /// Runs until cancelled: adopts existing units, then reconciles on change notifications and
    /// periodically, follows systemd's events and republishes periodically. Does not purge on
    /// cancellation; call ``purge()`` for that (fleet purges on SIGTERM).
    public func run() async {
        while !started {
            do { try await start() } catch {
                logger.error("\(error)")
                do { try await Task.sleep(for: configuration.resubscribeDelay) } catch { return }
            }
        }
        let changes = await source.changes()
        // Notifications are noted as they come; the pass they ask for starts once they pause.
        let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.followEvents() }
            group.addTask {
                for await _ in changes {
                    await self.noteChange()
                    wake.yield()
                }
                wake.finish()
            }
            group.addTask {
                for await _ in wakes {
                    await self.awaitQuiet()
                    await self.reconcileOnce()
                }
            }
            group.addTask {
                await self.reconcileOnce()
                while (try? await Task.sleep(for: self.configuration.reconcileInterval)) != nil {
                    await self.reconcileOnce()
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: self.configuration.republishInterval)) != nil {
                    await self.republishAll()
                }
            }
            await group.waitForAll()
        }
    }

    private func noteChange() { lastChange = .now }

    /// Waits until the burst of change notifications that woke the caller has paused for
    /// ``ChangeCoalescing/quiet``, at most ``ChangeCoalescing/limit`` (returns at once on cancellation).
    private func awaitQuiet() async {
        let first = ContinuousClock.now
        while let last = lastChange {
            let start = configuration.coalescing.start(first: first, last: last)
            guard start > .now else { return }
            do { try await Task.sleep(until: start, clock: .continuous) } catch { return }
        }
    }

    /// Consumes systemd's events, subscribing again (after refreshing every state, since signals may
    /// have been missed) whenever the stream ends, until cancelled.
    private func followEvents() async {
        while !Task.isCancelled {
            do {
                let events = try await units.events()
                await refreshStates()
                await publishChanges()
                try await drain(events)
            } catch {
                logger.warning("\(AgentError.systemdUnavailable(String(describing: error)))")
            }
            if Task.isCancelled { return }
            try? await Task.sleep(for: configuration.resubscribeDelay)
        }
    }

    /// Applies events as fast as systemd sends them and publishes beside them: a publish in flight
    /// takes every change that arrived meanwhile into its next batch. Before, each event waited for
    /// its own publish (two store writes per unit, one unit per batch), so a survivor starting 125
    /// moved units published them one after another, each transitional state included.
    private func drain(_ events: AsyncThrowingStream<UnitEvent, any Error>) async throws {
        let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        following = true
        defer { following = false }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in wakes { await self.publishChanges() }
            }
            defer { wake.finish() }
            for try await event in events {
                if await apply(event) { wake.yield() }
            }
        }
    }
}
