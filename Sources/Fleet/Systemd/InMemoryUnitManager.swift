import Synchronization

/// A ``UnitManager`` that simulates systemd in memory, for testing the agent without machines.
///
/// Behaves like the real one where the agent can tell: a loaded unit is `not-found` until
/// ``reloadUnitFiles()``; starting a loaded unit makes it `active/running` and stopping it
/// `inactive/dead`, each announced through ``events()`` (state change naming all three states, then job
/// removal) just as systemd does; unknown units report `not-found/inactive/dead`. Failures can be
/// injected with ``fail(_:)``.
public final class InMemoryUnitManager: UnitManager {
    private struct Unit {
        var contents: String
        var state = UnitState(loadState: .notFound, activeState: .inactive, subState: "dead")
        var reloaded = false
    }

    private struct State {
        var units: [String: Unit] = [:]
        var consumers: [Int: AsyncThrowingStream<UnitEvent, any Error>.Continuation] = [:]
        var nextConsumer = 0
        var nextJob: UInt32 = 1
        var failing: [String: ActiveState] = [:]
        var log: [String] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// The operations performed so far (`load x`, `start x`, ...), for assertions.
    public var operations: [String] { state.withLock { $0.log } }

    /// How many units are active right now: a cheap count (no copies) for callers that poll many
    /// simulated machines, such as fleet-sim's convergence check.
    public var activeCount: Int { state.withLock { $0.units.values.reduce(0) { $0 + ($1.state.activeState == .active ? 1 : 0) } } }

    /// The contents last loaded for `name`.
    public func contents(of name: String) -> String? { state.withLock { $0.units[name]?.contents } }

    /// Makes the next start of `name` end in `failed` (job result `failed`).
    public func fail(_ name: String) { state.withLock { $0.failing[name] = .failed } }

    public func load(_ name: String, contents: String) async throws {
        try SystemdUnitManager.validate(name)
        state.withLock { state in
            state.log.append("load \(name)")
            var unit = state.units[name] ?? Unit(contents: contents)
            unit.contents = contents
            state.units[name] = unit
        }
    }

    public func unload(_ name: String) async throws {
        try SystemdUnitManager.validate(name)
        state.withLock { state in
            state.log.append("unload \(name)")
            state.units[name] = nil
        }
    }

    public func reloadUnitFiles() async throws {
        state.withLock { state in
            state.log.append("reload")
            for name in state.units.keys {
                let valid =
                    state.units[name]!.contents.contains("[Service]")
                    || !name.hasSuffix(".service")
                state.units[name]!.state.loadState = valid ? .loaded : .badSetting
            }
        }
    }

    public func triggerStart(_ name: String) async throws {
        try transition(name, verb: "start") { state, unit in
            let failed = state.failing.removeValue(forKey: name) != nil
            return failed
                ? (UnitState(loadState: .loaded, activeState: .failed, subState: "failed"), .failed)
                : (UnitState(loadState: .loaded, activeState: .active, subState: "running"), .done)
        }
    }

    public func triggerStop(_ name: String) async throws {
        try transition(name, verb: "stop") { _, _ in
            (UnitState(loadState: .loaded, activeState: .inactive, subState: "dead"), .done)
        }
    }

    private func transition(
        _ name: String, verb: String, _ next: (inout State, Unit) -> (UnitState, JobResult)
    ) throws {
        let (events, consumers) = try state.withLock { state in
            state.log.append("\(verb) \(name)")
            guard let unit = state.units[name], unit.state.loadState == .loaded else {
                throw SystemdError.dbus(
                    member: verb == "start" ? "StartUnit" : "StopUnit",
                    error: BusError(name: BusError.Name.noSuchUnit, message: "Unit \(name) not found."))
            }
            let (newState, result) = next(&state, unit)
            state.units[name]!.state = newState
            let id = state.nextJob
            state.nextJob += 1
            let events: [UnitEvent] = [
                .stateChanged(
                    UnitStateChange(
                        unit: name, loadState: newState.loadState, activeState: newState.activeState,
                        subState: newState.subState)),
                .jobRemoved(JobRemoval(id: id, job: "/org/freedesktop/systemd1/job/\(id)", unit: name, result: result)),
            ]
            return (events, Array(state.consumers.values))
        }
        for event in events {
            for consumer in consumers { consumer.yield(event) }
        }
    }

    public func units() async throws -> [String] {
        state.withLock { $0.units.keys.sorted() }
    }

    public func unitStates(_ names: [String]) async throws -> [String: UnitState] {
        state.withLock { state in
            var out: [String: UnitState] = [:]
            for name in names {
                out[name] =
                    state.units[name]?.state
                    ?? UnitState(loadState: .notFound, activeState: .inactive, subState: "dead")
            }
            return out
        }
    }

    public func events() async throws -> AsyncThrowingStream<UnitEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<UnitEvent, any Error>.makeStream()
        let id = state.withLock { state in
            let id = state.nextConsumer
            state.nextConsumer += 1
            state.consumers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.consumers.removeValue(forKey: id) }
        }
        return stream
    }
}
