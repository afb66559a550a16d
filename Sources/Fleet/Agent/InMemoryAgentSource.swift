import Synchronization

/// An ``AgentSource`` held in memory, for tests and single-machine demos: a registry snapshot
/// (units and schedule), the states published so far, and a switch that makes the "store" fail.
public final class InMemoryAgentSource: AgentSource {
    private struct State {
        var units: [RegistryUnit] = []
        var schedule: [String: String] = [:]
        var available = true
        var published: [String: UnitStateRecord] = [:]
        var publishLog: [[PublishedUnitState]] = []
        var desiredReads = 0
        var heartbeats: [String] = []
        var heartbeatCalls = 0
        var watchers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    public init(units: [RegistryUnit] = [], schedule: [String: String] = [:]) {
        state.withLock {
            $0.units = units
            $0.schedule = schedule
        }
    }

    /// Replaces the registry snapshot and notifies watchers.
    public func set(units: [RegistryUnit], schedule: [String: String]) {
        state.withLock {
            $0.units = units
            $0.schedule = schedule
        }
        notifyChanged()
    }

    /// Makes every call fail with ``AgentSourceError/unavailable(_:)`` (false) or succeed again (true).
    public func setAvailable(_ available: Bool) { state.withLock { $0.available = available } }

    /// The current published state per unit (deleted units absent).
    public var published: [String: UnitStateRecord] { state.withLock { $0.published } }

    /// Every successful ``publish(_:)`` call's batch, in order.
    public var publishLog: [[PublishedUnitState]] { state.withLock { $0.publishLog } }

    /// The units of the last successful ``heartbeat(launched:)``, and how many there were.
    public var heartbeats: [String] { state.withLock { $0.heartbeats } }
    public var heartbeatCalls: Int { state.withLock { $0.heartbeatCalls } }

    /// How many times ``desiredUnits(for:)`` was called (successfully or not).
    public var desiredReads: Int { state.withLock { $0.desiredReads } }

    /// Wakes every ``changes()`` stream.
    public func notifyChanged() {
        let watchers = state.withLock { Array($0.watchers.values) }
        for watcher in watchers { watcher.yield() }
    }

    public func desiredUnits(for machine: MachineState) async throws -> [DesiredUnit] {
        let (units, schedule, available) = state.withLock { s in
            s.desiredReads += 1
            return (s.units, s.schedule, s.available)
        }
        guard available else { throw AgentSourceError.unavailable("in-memory source switched off") }
        return DesiredUnit.toRun(on: machine, units: units, schedule: schedule)
    }

    public func publish(_ states: [PublishedUnitState]) async throws {
        try state.withLock { s in
            guard s.available else { throw AgentSourceError.unavailable("in-memory source switched off") }
            for entry in states { s.published[entry.unit] = entry.record }
            s.publishLog.append(states)
        }
    }

    public func heartbeat(launched units: [String]) async throws {
        try state.withLock { s in
            guard s.available else { throw AgentSourceError.unavailable("in-memory source switched off") }
            s.heartbeats = units.sorted()
            s.heartbeatCalls += 1
        }
    }

    public func changes() async -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { s in
            let id = s.nextWatcher
            s.nextWatcher += 1
            s.watchers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}
