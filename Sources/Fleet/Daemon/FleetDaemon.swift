import KV
import NIOConcurrencyHelpers
import NIOSSL
import Logging

/// One fleetd: the machine's presence, the agent, the engine (unless disabled) and the fleet API,
/// over one store client. This type wires the library's pieces together; `fleetd` only reads its
/// configuration and signals.
///
/// Start-up order: the API listens first (answering 503 until the store is reachable, as fleet did),
/// then the machine is announced, then the agent and the engine run. Shutdown (SIGTERM) is the
/// reverse, with fleet's purge: the engine resigns its lease, the agent stops and unloads every unit
/// it runs and deletes their states, the machine's presence is removed so its units move at once,
/// and the API closes last.
public final class FleetDaemon: Sendable {
    /// What a daemon is made of; build it with the daemon's configuration.
    public struct Parts: Sendable {
        public var config: FleetConfig
        public var machine: MachineState
        public var store: any StoreClient
        public var units: any UnitManager
        /// Where to serve the API (listen addresses, passed sockets included).
        public var apiListeners: [HTTPListenAddress]
        /// Serves the `.https` listeners (see ``FleetDaemon/apiServerTLS(config:)``).
        public var apiTLS: NIOSSLContext?
        /// Builds the API responder for the registry and this machine; nil serves no API.
        public var makeAPI: (@Sendable (Registry, MachineState) -> any HTTPResponder)?
        /// Agent timings; default fleet's for `agent_ttl`.
        public var agent: AgentConfiguration?
        /// Engine settings; default from the configuration.
        public var engine: EngineConfiguration?

        public init(
            config: FleetConfig, machine: MachineState, store: any StoreClient, units: any UnitManager,
            apiListeners: [HTTPListenAddress] = [], apiTLS: NIOSSLContext? = nil,
            makeAPI: (@Sendable (Registry, MachineState) -> any HTTPResponder)? = nil,
            agent: AgentConfiguration? = nil, engine: EngineConfiguration? = nil
        ) {
            self.config = config
            self.machine = machine
            self.store = store
            self.units = units
            self.apiListeners = apiListeners
            self.apiTLS = apiTLS
            self.makeAPI = makeAPI
            self.agent = agent
            self.engine = engine
        }
    }

    public let registry: Registry
    public let machine: MachineState
    public let agent: Agent
    /// Nil when `disable_engine` is set.
    public let engine: Engine?
    public let heartbeat: MachineHeartbeat
    public let apiServers: [HTTPServer]
    private let tasks: TaskSet
    private let logger: Logger

    private init(
        registry: Registry, machine: MachineState, agent: Agent, engine: Engine?, heartbeat: MachineHeartbeat,
        apiServers: [HTTPServer], logger: Logger
    ) {
        self.registry = registry
        self.machine = machine
        self.agent = agent
        self.engine = engine
        self.heartbeat = heartbeat
        self.apiServers = apiServers
        self.tasks = TaskSet()
        self.logger = logger
    }

    /// Opens the API listeners and starts every component in the background. Returns once the API
    /// serves; the machine is announced as soon as the store answers.
    public static func start(_ parts: Parts, logger: Logger = Logger(label: "fleetd")) async throws(FleetDaemonError)
        -> FleetDaemon
    {
        let config = parts.config
        let registry = Registry(store: parts.store, keys: RegistryKeyLayout(prefix: config.etcdKeyPrefix))
        var servers: [HTTPServer] = []
        if let makeAPI = parts.makeAPI {
            let responder = makeAPI(registry, parts.machine)
            for address in parts.apiListeners {
                do {
                    servers.append(try await HTTPServer.start(address: address, responder: responder, tls: parts.apiTLS))
                } catch {
                    for server in servers { await server.shutdown() }
                    throw .apiListen(address: address.description, reason: "\(error)")
                }
            }
        }
        let ttlSeconds = max(1, Int(config.agentTTLSeconds.rounded(.up)))
        let source = RegistryAgentSource(registry: registry, machineID: parts.machine.id, ttl: ttlSeconds)
        let agent = Agent(
            machine: parts.machine, source: source, units: parts.units,
            configuration: parts.agent ?? AgentConfiguration(agentTTL: config.agentTTL),
            logger: logger.component("agent"))
        let engine = config.disableEngine
            ? nil
            : Engine(
                registry: registry,
                configuration: parts.engine ?? EngineConfiguration(config: config, machineID: parts.machine.id),
                logger: logger.component("engine"))
        let (machineSeconds, _) = config.machineTTL.components
        let heartbeat = MachineHeartbeat(
            registry: registry, machine: parts.machine, ttl: Int(max(1, machineSeconds)),
            logger: logger.component("presence"))
        let daemon = FleetDaemon(
            registry: registry, machine: parts.machine, agent: agent, engine: engine, heartbeat: heartbeat,
            apiServers: servers, logger: logger)
        daemon.tasks.add {
            await heartbeat.announce()
            await heartbeat.run()
        }
        daemon.tasks.add { await agent.run() }
        if let engine { daemon.tasks.add { await engine.run() } }
        let api = servers.isEmpty ? "" : "; API on " + servers.map { "\($0.boundAddress)" }.joined(separator: ", ")
        let mode = engine == nil ? " (engine disabled)" : ""
        logger.info("fleetd \(FleetModule.version) started on machine \(parts.machine.id)\(mode)\(api)")
        return daemon
    }

    /// Stops every component. With `purge` (SIGTERM, fleet's behaviour) the agent first stops and
    /// unloads its units and the machine leaves the registry; without it (a crash-like stop, used in
    /// tests) units keep running and the presence simply expires.
    public func shutdown(purge: Bool = true) async {
        await tasks.cancelAll()
        if let engine { await engine.resign() }
        if purge {
            let left = await agent.purge()
            if !left.isEmpty { logger.warning("units still loaded after the purge: \(left.joined(separator: " "))") }
            await heartbeat.withdraw()
        }
        for server in apiServers { await server.shutdown() }
        logger.info("fleetd stopped")
    }
}

extension Logger {
    /// The same destination, tagged with the component that logs.
    func component(_ name: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = .string(name)
        return copy
    }
}

/// Background tasks cancelled together.
final class TaskSet: Sendable {
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])

    func add(_ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        tasks.withLockedValue { $0.append(task) }
    }

    func cancelAll() async {
        let all = tasks.withLockedValue { list -> [Task<Void, Never>] in
            defer { list.removeAll() }
            return list
        }
        for task in all { task.cancel() }
        for task in all { await task.value }
    }
}
