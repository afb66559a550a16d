import Logging

/// Runs planned ``AgentTask``s against a ``UnitManager`` and keeps ``LocalUnitState`` in step with
/// what actually succeeded, so the next plan retries exactly what did not happen.
///
/// A pass stops at the first failing task (logged): later tasks usually depend on earlier ones (a start
/// on its load, everything on the reload), and the next pass replans from the recorded state.
public struct AgentExecutor: Sendable {
    /// What a pass did.
    public struct Result: Hashable, Sendable {
        /// Tasks that succeeded, in order.
        public var executed: [AgentTask] = []
        /// The failures (at most one unless the pass continued past failures, as a purge does).
        public var failures: [AgentError] = []
        public init() {}
        /// Whether every task succeeded.
        public var succeeded: Bool { failures.isEmpty }
    }

    public let units: any UnitManager
    public let logger: Logger

    public init(units: any UnitManager, logger: Logger = Logger(label: "fleet.agent")) {
        self.units = units
        self.logger = logger
    }

    /// Runs `tasks` in order, updating `state` after each success. With `continueOnFailure` (purge) a
    /// failed task is logged and the rest still run; otherwise the pass ends at the first failure.
    public func execute(_ tasks: [AgentTask], state: inout LocalUnitState, continueOnFailure: Bool = false) async
        -> Result
    {
        var result = Result()
        for task in tasks {
            do {
                try await perform(task, state: &state)
                logger.info("\(task)")
                result.executed.append(task)
            } catch {
                let failure = AgentError.taskFailed(task, String(describing: error))
                logger.error("\(failure)")
                result.failures.append(failure)
                if !continueOnFailure { break }
            }
        }
        return result
    }

    private func perform(_ task: AgentTask, state: inout LocalUnitState) async throws {
        switch task.kind {
        case .unload:
            let name = task.unit!
            // Stop first and unload only if the stop was accepted (fleet #1216: unloading a unit whose
            // stop failed left it running with no file behind it). A unit systemd does not know has
            // nothing to stop.
            try await stopIgnoringUnknown(name)
            state.launched.remove(name)
            try await units.unload(name)
            state.files[name] = nil
            state.reloadPending = true
        case .load:
            let unit = task.desired!
            try await units.load(unit.name, contents: unit.contents)
            state.files[unit.name] = LocalUnitState.File(hash: unit.hash)
            state.launched.remove(unit.name)
            state.reloadPending = true
        case .reloadUnitFiles:
            try await units.reloadUnitFiles()
            state.reloadPending = false
        case .stop:
            let name = task.unit!
            try await stopIgnoringUnknown(name)
            state.launched.remove(name)
        case .start:
            let name = task.unit!
            try await units.triggerStart(name)
            state.launched.insert(name)
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
