import Foundation

/// The agent's view of the cluster (``AgentSource``) backed by the store through a ``Registry``.
///
/// Reads units and schedule in two recursive GETs per pass, publishes unit states and heartbeats
/// with the agent TTL, and turns a recursive watch of `job/` into change notifications. It refuses
/// to answer rather than answer wrongly: if a unit scheduled on this machine cannot be read, an
/// answer without it would make the agent stop it, so ``desiredUnits(for:)`` throws instead and the
/// agent keeps what runs running.
public final class RegistryAgentSource: AgentSource, @unchecked Sendable {
    public let registry: Registry
    public let machineID: String
    /// TTL (seconds) of published states and heartbeats: `agent_ttl`.
    public let ttl: Int
    private let lock = NSLock()
    private var heartbeated: Set<String> = []

    public init(registry: Registry, machineID: String, ttl: Int) {
        self.registry = registry
        self.machineID = machineID
        self.ttl = max(1, ttl)
    }

    public func desiredUnits(for machine: MachineState) async throws -> [DesiredUnit] {
        let keys = registry.keys
        let jobs = try await registry.read(keys.jobsDirectory, "list units for machine \(machine.id)").node
        let blobs = try await registry.read(keys.unitBlobsDirectory, "list unit contents for machine \(machine.id)").node
        let contents = RegistryContents(leaves: (jobs?.leaves ?? []) + (blobs?.leaves ?? []), keys: keys)
        let unreadableHere = contents.unreadableUnits.filter { contents.allTargets[$0] == machine.id }.sorted()
        if !unreadableHere.isEmpty {
            let reasons = contents.problems.map(\.description).joined(separator: "; ")
            throw AgentSourceError.unavailable(
                "units scheduled here cannot be read (\(unreadableHere.joined(separator: ", "))): \(reasons)")
        }
        var schedule: [String: String] = [:]
        for unit in contents.units { if let target = unit.target { schedule[unit.name] = target } }
        return DesiredUnit.toRun(on: machine, units: contents.units.map(\.unit), schedule: schedule)
    }

    public func publish(_ states: [PublishedUnitState]) async throws {
        for state in states {
            if let record = state.record {
                try await registry.publishUnitState(state.unit, machineID: machineID, record, ttl: ttl)
            } else {
                try await registry.removeUnitState(state.unit, machineID: machineID)
            }
        }
    }

    public func heartbeat(launched units: [String]) async throws {
        let previous = lock.withLock { heartbeated }
        for unit in units { try await registry.setHeartbeat(unit, machineID: machineID, ttl: ttl) }
        for unit in previous.subtracting(units).sorted() {
            try await registry.clearHeartbeat(unit, machineID: machineID)
        }
        lock.withLock { heartbeated = Set(units) }
    }

    /// Notifies on changes under `job/` (except heartbeats) and on watch history loss; bursts coalesce
    /// into one pending notification. Watch errors are retried with backoff; the agent's periodic
    /// pass covers the gap.
    public func changes() async -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let store = registry.store
        let keys = registry.keys
        let root = keys.jobsDirectory
        let task = Task.detached {
            var next: UInt64?
            var backoff = Duration.milliseconds(100)
            var missed = false
            while !Task.isCancelled {
                do {
                    if next == nil {
                        next = try await store.get(root, recursive: false, quorum: false).index + 1
                        // Changes during the outage were not seen: have the agent look.
                        if missed { continuation.yield() }
                        missed = false
                    }
                    let event = try await store.waitForChange(root, recursive: true, fromIndex: next!)
                    next = max(next!, event.node.modifiedIndex + 1)
                    backoff = .milliseconds(100)
                    if !event.node.key.hasSuffix("/job-state") { continuation.yield() }
                } catch StoreClientError.historyCleared(let current) {
                    next = current + 1
                    continuation.yield()
                } catch {
                    if Task.isCancelled { break }
                    next = nil
                    missed = true
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
