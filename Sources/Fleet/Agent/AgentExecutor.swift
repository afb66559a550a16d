import Logging

/// Runs planned ``AgentTask``s against a ``UnitManager`` and keeps ``LocalUnitState`` in step with
/// what actually succeeded, so the next plan retries exactly what did not happen.
///
/// Tasks of one kind are independent of each other, so each run of one kind is issued concurrently
/// (at most ``concurrency`` calls in flight): 1,000 StartUnit jobs cost about 1,000 / 32 bus round
/// trips instead of 1,000 in a row; a run of loads is one ``UnitManager/load(batch:)`` (on systemd one
/// `LinkUnitFiles` for all the files). Kinds still run one after another in plan order (unload → load →
/// reload → stop → start), and a unit's unload still stops it first and removes the file only if the
/// stop was accepted (fleet #1216).
///
/// A failing task ends the pass once the other tasks of its kind have finished (logged): later kinds
/// usually depend on earlier ones (a start on its load, everything on the reload), and the next pass
/// replans from the recorded state.
public struct AgentExecutor: Sendable {
    /// What a pass did.
    public struct Result: Hashable, Sendable {
        /// Tasks that succeeded, in plan order.
        public var executed: [AgentTask] = []
        /// The failures, in plan order (several when tasks of one kind failed together, or a purge
        /// continued past failures).
        public var failures: [AgentError] = []
        public init() {}
        /// Whether every task succeeded.
        public var succeeded: Bool { failures.isEmpty }
    }

    public let units: any UnitManager
    public let logger: Logger
    /// Calls to the unit manager in flight at most, within one kind of task.
    public let concurrency: Int

    public init(
        units: any UnitManager, logger: Logger = Logger(label: "fleet.agent"),
        concurrency: Int = BoundedConcurrency.defaultLimit
    ) {
        self.units = units
        self.logger = logger
        self.concurrency = max(1, concurrency)
    }

    /// Runs `tasks` (sorted as ``AgentReconciler`` plans them) kind by kind, each kind concurrently,
    /// updating `state` with what succeeded. With `continueOnFailure` (purge) failures are logged and
    /// the later kinds still run; otherwise the pass ends after the kind in which a task failed.
    public func execute(_ tasks: [AgentTask], state: inout LocalUnitState, continueOnFailure: Bool = false) async
        -> Result
    {
        var result = Result()
        for group in Self.runsOfOneKind(tasks) {
            let started = ContinuousClock.now
            let outcomes: [Outcome]
            if group.count > 1, group[0].kind == .load {
                outcomes = await loadAll(group)
            } else {
                outcomes = await BoundedConcurrency.map(group, limit: concurrency) { task in
                    await self.perform(task)
                }
            }
            logTiming(of: group, ContinuousClock.now - started)
            var failed = false
            for (task, outcome) in zip(group, outcomes) {
                for effect in outcome.effects { effect.apply(to: &state) }
                if let error = outcome.error {
                    let failure = AgentError.taskFailed(task, String(describing: error))
                    logger.error("\(failure)")
                    result.failures.append(failure)
                    failed = true
                } else {
                    // A large run is summed up by its timing line (with some of its units); a line per
                    // unit (1,000 at a bulk start) would crowd the journal up to journald's rate limit.
                    if group.count >= Self.timingLogThreshold { logger.debug("\(task)") } else { logger.info("\(task)") }
                    result.executed.append(task)
                }
            }
            if failed && !continueOnFailure { break }
        }
        return result
    }

    /// One line per run of one kind with its duration, to see which phase of a pass dominates
    /// (loads, the daemon-reload or the starts): info when it is large or slow, else debug.
    private func logTiming(of group: [AgentTask], _ elapsed: Duration) {
        guard let kind = group.first?.kind else { return }
        let (seconds, attoseconds) = elapsed.components
        var text = "\(kind) x\(group.count) took \(Double(seconds) + Double(attoseconds) / 1e18) s"
        if group.count >= Self.timingLogThreshold {
            let names = group.prefix(5).compactMap(\.unit)
            text += " (\(names.joined(separator: ", "))\(group.count > names.count ? ", …" : ""))"
        }
        if group.count >= Self.timingLogThreshold || elapsed >= .seconds(1) {
            logger.info("\(text)")
        } else {
            logger.debug("\(text)")
        }
    }

    /// Runs of at least this many tasks log their timing at info level.
    static let timingLogThreshold = 32

    /// Consecutive tasks of the same kind, in order.
    static func runsOfOneKind(_ tasks: [AgentTask]) -> [[AgentTask]] {
        var runs: [[AgentTask]] = []
        for task in tasks {
            if let last = runs.last?.last, last.kind == task.kind {
                runs[runs.count - 1].append(task)
            } else {
                runs.append([task])
            }
        }
        return runs
    }

    /// What one task changed (recorded even when a later step of the same task failed) and how it
    /// ended.
    struct Outcome: Sendable {
        var effects: [Effect] = []
        var error: (any Error)?
    }

    /// A change to ``LocalUnitState`` made by a successful step.
    enum Effect: Sendable {
        case stopped(String)
        case unloaded(String)
        case loaded(DesiredUnit)
        case reloaded
        case started(String)

        func apply(to state: inout LocalUnitState) {
            switch self {
            case .stopped(let name): state.launched.remove(name)
            case .unloaded(let name):
                state.files[name] = nil
                state.reloadPending = true
            case .loaded(let unit):
                state.files[unit.name] = LocalUnitState.File(hash: unit.hash)
                state.launched.remove(unit.name)
                state.reloadPending = true
            case .reloaded: state.reloadPending = false
            case .started(let name): state.launched.insert(name)
            }
        }
    }

    private func perform(_ task: AgentTask) async -> Outcome {
        var outcome = Outcome()
        do {
            switch task.kind {
            case .unload:
                let name = task.unit!
                // Stop first and unload only if the stop was accepted (fleet #1216: unloading a unit whose
                // stop failed left it running with no file behind it). A unit systemd does not know has
                // nothing to stop.
                try await stopIgnoringUnknown(name)
                outcome.effects.append(.stopped(name))
                try await units.unload(name)
                outcome.effects.append(.unloaded(name))
            case .load:
                let unit = task.desired!
                try await units.load(unit.name, contents: unit.contents)
                outcome.effects.append(.loaded(unit))
            case .reloadUnitFiles:
                try await units.reloadUnitFiles()
                outcome.effects.append(.reloaded)
            case .stop:
                let name = task.unit!
                try await stopIgnoringUnknown(name)
                outcome.effects.append(.stopped(name))
            case .start:
                let name = task.unit!
                try await units.triggerStart(name)
                outcome.effects.append(.started(name))
            }
        } catch {
            outcome.error = error
        }
        return outcome
    }

    /// A run of loads as one ``UnitManager/load(batch:)``: on systemd one `LinkUnitFiles` for all
    /// of them instead of a bus call per unit. Each unit still succeeds or fails on its own.
    private func loadAll(_ group: [AgentTask]) async -> [Outcome] {
        let desired = group.map { $0.desired! }
        let errors = await units.load(batch: desired.map { UnitFileToLoad(name: $0.name, contents: $0.contents) })
        return zip(desired, errors).map { unit, error in
            error.map { Outcome(error: $0) } ?? Outcome(effects: [.loaded(unit)])
        }
    }

    private func stopIgnoringUnknown(_ name: String) async throws {
        do {
            try await units.triggerStop(name)
        } catch let error as SystemdError where error.isNoSuchUnit {
            logger.debug("\(name) unknown to systemd, nothing to stop")
        }
    }
}
