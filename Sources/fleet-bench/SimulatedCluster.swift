import Foundation
import Fleet
import KV
import Logging

/// A whole fleet in one process for `fleet-bench fleet-sim`: one in-process store, N machines each
/// with its presence heartbeat and a real ``Agent`` over ``RegistryAgentSource`` and an
/// ``InMemoryUnitManager``, and a few ``Engine``s competing for the lease.
///
/// Each agent has its own ``RegistryAgentSource`` (its own view, reads and writes), as separate
/// fleetd processes would. The one thing they share besides the store is the ``JobEventFeed``: one
/// stream watch of `job/` whose events are routed to the agents they concern, instead of 1,000
/// watchers each handed every event (a real fleetd has one agent and one feed; docs/agent.md).
final class SimulatedCluster: @unchecked Sendable {
    struct Machine {
        let state: MachineState
        let systemd: InMemoryUnitManager
        let agent: Agent
        let presence: MachineHeartbeat
    }

    let backend: UnreplicatedBackend
    let registry: Registry
    let machines: [Machine]
    let engines: [Engine]
    private var agentTasks: [Task<Void, Never>] = []
    private var otherTasks: [Task<Void, Never>] = []

    /// `agent_ttl` of the simulated machines (fleet's default).
    static let agentTTL = 30

    init(machines count: Int, engines engineCount: Int, agentTTL: Int = SimulatedCluster.agentTTL, fullReads: Bool = false) {
        backend = UnreplicatedBackend(name: "sim", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        backend.startExpiry()
        let store = InProcessStoreClient(backend: backend)
        registry = Registry(store: store)
        let feed = JobEventFeed(registry: registry)
        var quiet = Logger(label: "fleet-sim")
        quiet.logLevel = .error
        var machines: [Machine] = []
        for i in 0..<count {
            let state = MachineState(
                id: SimulatedUnits.machineID(i), publicIP: "10.\(i / 65536).\(i / 256 % 256).\(i % 256)",
                metadata: SimulatedUnits.metadata(i))
            let systemd = InMemoryUnitManager()
            let source = RegistryAgentSource(registry: registry, machineID: state.id, ttl: agentTTL, feed: feed)
            let agent = Agent(
                machine: state, source: source, units: systemd,
                configuration: AgentConfiguration(agentTTL: .seconds(agentTTL)), logger: quiet)
            let presence = MachineHeartbeat(registry: registry, machine: state, ttl: agentTTL, logger: quiet)
            machines.append(Machine(state: state, systemd: systemd, agent: agent, presence: presence))
        }
        self.machines = machines
        let registry = self.registry
        engines = (0..<min(engineCount, count)).map { i in
            var configuration = EngineConfiguration(machineID: machines[i].state.id)
            configuration.incremental = !fullReads
            return Engine(registry: registry, configuration: configuration, logger: Self.engineLogger)
        }
    }

    /// Announces every machine, then starts agents and engines.
    func start() async {
        for machine in machines { await machine.presence.announce() }
        for machine in machines {
            otherTasks.append(Task { await machine.presence.run() })
            agentTasks.append(Task { await machine.agent.run() })
        }
        for engine in engines { otherTasks.append(Task { await engine.run() }) }
    }

    /// The engines' logger: quiet, or at the level in `FLEET_SIM_ENGINE_LOG` (e.g. `debug` shows each
    /// pass with its duration, to see where convergence time goes).
    static var engineLogger: Logger {
        var logger = Logger(label: "fleet-sim.engine")
        let level = ProcessInfo.processInfo.environment["FLEET_SIM_ENGINE_LOG"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .error
        return logger
    }

    /// Submits units as fleetctl would (blob, object, desired state), `parallel` at a time.
    func submit(_ units: [RegistryUnit], parallel: Int = 16) async throws {
        let registry = self.registry
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<min(parallel, units.count) {
                let unit = units[next]
                next += 1
                group.addTask { try await registry.createUnit(unit) }
            }
            while try await group.next() != nil {
                guard next < units.count else { continue }
                let unit = units[next]
                next += 1
                group.addTask { try await registry.createUnit(unit) }
            }
        }
    }

    /// Stops the agents (units keep running in the fake systemd; nothing is purged).
    func stopAgents() async {
        for task in agentTasks { task.cancel() }
        for task in agentTasks { await task.value }
        agentTasks = []
    }

    /// Stops everything.
    func shutdown() async {
        await stopAgents()
        for task in otherTasks { task.cancel() }
        for task in otherTasks { await task.value }
        otherTasks = []
    }
}
