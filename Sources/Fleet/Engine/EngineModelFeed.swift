import Logging
import Synchronization

/// Follows the store for the leading engine: one continuous watch of the registry prefix
/// (``StoreWatchSubscription``) applying every event to the engine's ``EngineModel`` in store order,
/// and waking the engine's loop for the events that can change a plan.
///
/// Why a separate object: the watch runs on its own task while the engine's actor plans, and both
/// touch the model, so it lives behind a lock here. A model is only ever followed from the index of
/// the full read that built it, so no event is missed; if the watch fails or the store's history no
/// longer holds the next event, the model is dropped (the engine's next pass reads everything again)
/// rather than planned from with a gap.
final class EngineModelFeed: Sendable {
    private struct State {
        var model: EngineModel?
        /// Bumped by every applied event, so a snapshot's caches are kept only if nothing changed.
        var version: UInt64 = 0
        /// Bumped by every applied event that can change a plan; reset by ``follow(_:)``.
        var planVersion: UInt64 = 0
        /// Bumped by every ``follow(_:)`` and ``stop()``: events of an older watch are ignored.
        var generation: UInt64 = 0
        var watch: (any StoreWatchSubscription)?
        var pump: Task<Void, Never>?
        /// A machine was lost since the engine last looked: the next pass must not wait.
        var urgent = false
    }

    private let store: any StoreClient
    private let directory: String
    private let wake: WakeSignal
    private let logger: Logger
    private let state = Mutex(State())

    init(store: any StoreClient, keys: RegistryKeyLayout, wake: WakeSignal, logger: Logger) {
        self.store = store
        directory = String(keys.prefix.dropLast())
        self.wake = wake
        self.logger = logger
    }

    /// Makes `model` (just built from a full read) the current one and follows the store from its
    /// index + 1, replacing any earlier model and watch, and returns its stamp (the model as given).
    /// Throws if the store refuses the watch; the engine then plans from full reads only.
    @discardableResult
    func follow(_ model: EngineModel) throws -> ModelStamp {
        let watch = try store.subscribe(directory, recursive: true, fromIndex: model.index + 1)
        let (old, stamp): ((any StoreWatchSubscription, Task<Void, Never>?)?, ModelStamp) = state.withLock { s in
            let previous = s.watch.map { ($0, s.pump) }
            s.generation += 1
            s.planVersion = 0
            let generation = s.generation
            s.model = model
            s.watch = watch
            s.pump = Task.detached { [weak self] in await self?.pump(watch, generation: generation) }
            return (previous, ModelStamp(generation: generation, planVersion: 0))
        }
        old?.0.cancel()
        old?.1?.cancel()
        return stamp
    }

    /// Stops following and forgets the model (leadership lost, engine stopping).
    func stop() {
        let old: (any StoreWatchSubscription, Task<Void, Never>?)? = state.withLock { s in
            s.generation += 1
            s.model = nil
            defer { s.watch = nil; s.pump = nil }
            return s.watch.map { ($0, s.pump) }
        }
        old?.0.cancel()
        old?.1?.cancel()
    }

    /// What ``snapshot(showing:)`` found.
    enum Answer {
        /// No model is followed: read everything.
        case noModel
        /// The model does not show every expected target yet.
        case behind
        case current(RegistrySnapshot, ModelStamp)
    }

    /// Which followed model (and which of its plan-relevant states) a snapshot or check was taken
    /// from: equal stamps mean the same plan inputs.
    struct ModelStamp: Equatable, Sendable {
        var generation: UInt64
        var planVersion: UInt64
    }

    /// What ``check(against:)`` found.
    enum Check {
        /// No model is followed.
        case noModel
        /// The model (as stamped) holds exactly what the read holds.
        case matches(ModelStamp)
        case diverged(ModelDivergence)
    }

    /// Compares the followed model with one full read of the prefix (its root node). The comparison
    /// runs on a copy taken under the lock (copy-on-write: no copying), so the watch is never held
    /// up; events applied meanwhile change the live model's stamp, never the answer.
    func check(against root: StoreNode?) -> Check {
        let taken: (model: EngineModel, stamp: ModelStamp)? = state.withLock { s in
            s.model.map { ($0, ModelStamp(generation: s.generation, planVersion: s.planVersion)) }
        }
        guard let taken else { return .noModel }
        if let divergence = taken.model.divergence(from: root) { return .diverged(divergence) }
        return .matches(taken.stamp)
    }

    /// The model's snapshot if it shows every `expected` target (unit → machine, nil for none; a
    /// unit whose job is gone counts as shown: the plan treats it as destroyed).
    ///
    /// The snapshot is assembled from a copy taken under the lock (copy-on-write: no copying), not
    /// under the lock itself, so the watch task never waits for a pass (a task blocked on a lock
    /// holds one of the few threads every other task of the process needs).
    func snapshot(showing expected: [String: String?]) -> Answer {
        let taken: (model: EngineModel, generation: UInt64, version: UInt64, planVersion: UInt64)? = state.withLock {
            s in
            guard let model = s.model else { return nil }
            return (model, s.generation, s.version, s.planVersion)
        }
        guard var model = taken?.model else { return .noModel }
        for (unit, target) in expected where model.hasJob(unit) && model.target(of: unit) != target {
            return .behind
        }
        let snapshot = model.snapshot()
        // Keep the sorted lists it built, unless the watch changed the model meanwhile.
        state.withLock { s in
            if s.generation == taken!.generation, s.version == taken!.version, s.model != nil { s.model = model }
        }
        return .current(snapshot, ModelStamp(generation: taken!.generation, planVersion: taken!.planVersion))
    }

    /// Whether a machine was lost since the last call (the pass must run at once), clearing it.
    func takeUrgent() -> Bool {
        state.withLock { s in
            defer { s.urgent = false }
            return s.urgent
        }
    }

    private func pump(_ watch: any StoreWatchSubscription, generation: UInt64) async {
        while !Task.isCancelled {
            let next: Result<StoreWatchEvent?, any Error>
            do { next = .success(try await watch.next()) } catch { next = .failure(error) }
            guard case .success(let event?) = next else {
                // The watch failed or ended: the model can no longer follow the store. Dropping it
                // (unless a newer follow replaced it) makes the next pass read everything and follow
                // anew; a safety pass that found the stale model still in agreement would keep it.
                let dropped = state.withLock { s in
                    guard s.generation == generation else { return false }
                    s.model = nil
                    return true
                }
                if dropped {
                    let why = if case .failure(let error) = next { "\(error)" } else { "the watch ended" }
                    logger.info("engine watch lost (\(why)); the next pass reads the whole registry")
                    wake.notify()
                }
                return
            }
            let affects: Bool = state.withLock { s in
                guard s.generation == generation, s.model != nil else { return false }
                let affects = s.model!.apply(event)
                s.version += 1
                if affects { s.planVersion += 1 }
                if affects, s.model!.isMachineLoss(event) { s.urgent = true }
                return affects
            }
            if affects { wake.notify() }
        }
    }
}
