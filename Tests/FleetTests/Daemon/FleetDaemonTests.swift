import Logging
import Testing
import TestSupport
@testable import Fleet
@testable import KV

/// Whole fleetds (presence, agent, engine) in one process over one in-process store, with systemd
/// replaced by ``InMemoryUnitManager``: placement, graceful shutdown (purge), a crashed machine and a
/// crashed engine leader.
@Suite(.serialized) struct FleetDaemonTests {
    struct Cluster {
        let store: InProcessStoreClient
        let registry: Registry
        var daemons: [String: FleetDaemon] = [:]
        var systemd: [String: InMemoryUnitManager] = [:]
    }

    static let quiet = Logger(label: "daemon-test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func config() -> FleetConfig {
        var config = FleetConfig()
        config.etcdKeyPrefix = "/fleet-test/"
        config.machineTTL = .seconds(1)
        config.agentTTL = .seconds(30)
        return config
    }

    static func makeCluster(_ ids: [String]) async throws -> Cluster {
        let backend = UnreplicatedBackend(name: "s", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        backend.startExpiry()
        let store = InProcessStoreClient(backend: backend)
        var cluster = Cluster(store: store, registry: Registry(store: store, keys: RegistryKeyLayout(prefix: "/fleet-test/")))
        for id in ids { try await start(id, in: &cluster) }
        return cluster
    }

    static func start(_ id: String, in cluster: inout Cluster) async throws {
        let systemd = InMemoryUnitManager()
        let machineID = String(repeating: id, count: 32 / id.count)
        let parts = FleetDaemon.Parts(
            config: config(), machine: MachineState(id: machineID, publicIP: "10.0.0.\(cluster.daemons.count + 1)"),
            store: cluster.store, units: systemd,
            agent: AgentConfiguration(reconcileInterval: .seconds(2), republishInterval: .seconds(20),
                                      purgeRounds: 3, purgePause: .milliseconds(50)),
            engine: EngineConfiguration(machineID: machineID, leaseTTL: 2, safetyInterval: .seconds(2),
                                        debounce: .milliseconds(20)))
        cluster.daemons[machineID] = try await FleetDaemon.start(parts, logger: quiet)
        cluster.systemd[machineID] = systemd
    }

    static func running(_ cluster: Cluster, _ unit: String) async -> [String] {
        var out: [String] = []
        for (id, systemd) in cluster.systemd {
            if let state = try? await systemd.unitStates([unit])[unit], state.activeState == .active { out.append(id) }
        }
        return out.sorted()
    }

    static func submit(_ registry: Registry, _ name: String, _ text: String = "[Service]\nExecStart=/bin/true\n") async throws {
        try await registry.createUnit(try RegistryUnit(name: name, text: text, desiredState: .launched))
    }

    @Test func machinesAnnounceAndAUnitRunsOnOneOfThem() async throws {
        var cluster = try await Self.makeCluster(["a", "b"])
        #expect(await EngineTests.eventually { (try? await cluster.registry.machines().count) == 2 })
        try await Self.submit(cluster.registry, "hello.service")
        #expect(await EngineTests.eventually { await Self.running(cluster, "hello.service").count == 1 })
        let host = await Self.running(cluster, "hello.service")[0]
        #expect(try await cluster.registry.target(of: "hello.service") == host)
        for (_, d) in cluster.daemons { await d.shutdown(purge: true) }
        cluster.daemons.removeAll()
    }

    @Test func theAPIServesTheClusterItRunsIn() async throws {
        let backend = UnreplicatedBackend(name: "s", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        backend.startExpiry()
        let store = InProcessStoreClient(backend: backend)
        let socket = "/tmp/fleet-swift-daemon-api-\(freeLoopbackPort()).sock"
        let systemd = InMemoryUnitManager()
        let machineID = String(repeating: "d", count: 32)
        let daemon = try await FleetDaemon.start(
            FleetDaemon.Parts(
                config: Self.config(), machine: MachineState(id: machineID, publicIP: "10.0.0.9"), store: store,
                units: systemd, apiListeners: [.unix(path: socket)],
                makeAPI: { registry, machine in
                    FleetAPIResponder(registry: registry, configuration: FleetAPIConfiguration(
                        tokenLimit: 100, version: "vtest", localMachineID: machine.id, inspector: nil,
                        forwardClient: nil, forwardTimeout: 1))
                },
                engine: EngineConfiguration(machineID: machineID, leaseTTL: 2, safetyInterval: .seconds(2),
                                            debounce: .milliseconds(20))),
            logger: Self.quiet)
        let client = try FleetAPIClient(endpoints: ["unix://" + socket], requestTimeout: 3)
        #expect(await EngineTests.eventually { (try? await client.machines().map(\.id)) == [machineID] })
        try await client.createUnit(APIUnit(
            name: "api.service", options: [APIUnitOption(section: "Service", name: "ExecStart", value: "/bin/true")],
            desiredState: "launched"))
        #expect(await EngineTests.eventually {
            (try? await client.unit("api.service"))??.currentState == "launched"
        })
        #expect(try await systemd.unitStates(["api.service"])["api.service"]?.activeState == .active)
        let states = try await client.unitStates(machineID: nil, unitName: nil)
        #expect(states.map(\.name) == ["api.service"])
        await daemon.shutdown(purge: true)
        // The API is closed with the daemon.
        await #expect(throws: FleetAPIError.self) { try await client.machines() }
    }

    @Test func gracefulShutdownPurgesAndTheUnitMovesAtOnce() async throws {
        var cluster = try await Self.makeCluster(["a", "b"])
        try await Self.submit(cluster.registry, "web.service")
        #expect(await EngineTests.eventually { await Self.running(cluster, "web.service").count == 1 })
        let first = await Self.running(cluster, "web.service")[0]
        let started = ContinuousClock.now
        await cluster.daemons[first]!.shutdown(purge: true)
        // Purged: unloaded from the old machine, which left the registry.
        #expect(try await cluster.systemd[first]!.units().isEmpty)
        #expect(try await cluster.registry.machine(first) == nil)
        // How fast is a benchmark's business (scripts/bench-fleet); here only that it moves, with a
        // bound far from what a loaded CI machine needs.
        #expect(await EngineTests.eventually(30) {
            let hosts = await Self.running(cluster, "web.service")
            return hosts.count == 1 && hosts[0] != first
        }, "not moved after \(ContinuousClock.now - started)")
        for (id, d) in cluster.daemons where id != first { await d.shutdown(purge: true) }
        cluster.daemons.removeAll()
    }

    @Test func aCrashedMachineLosesItsUnitsAfterTheMachineTTL() async throws {
        var cluster = try await Self.makeCluster(["a", "b", "c"])
        for i in 1...6 { try await Self.submit(cluster.registry, "u\(i).service") }
        #expect(await EngineTests.eventually {
            var total = 0
            for i in 1...6 { total += await Self.running(cluster, "u\(i).service").count }
            return total == 6
        })
        // Crash the machine with the most units, and the engine leader if it is another one: no purge.
        let victim = try await cluster.registry.snapshot().schedule.values.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
            .max { $0.value < $1.value }!.key
        let crashedUnits = try await cluster.registry.snapshot().schedule.filter { $0.value == victim }.keys.sorted()
        await cluster.daemons[victim]!.shutdown(purge: false)
        // Units left running on the dead machine's (fake) systemd are not counted any more.
        cluster.systemd.removeValue(forKey: victim)
        let started = ContinuousClock.now
        // Before agent_ttl (30 s) could have played a part: machine_ttl (1 s here) is what expires.
        // How fast is the benchmark's business (scripts/bench-fleet), not a timed test's.
        #expect(await EngineTests.eventually(25) {
            for unit in crashedUnits where await Self.running(cluster, unit).count != 1 { return false }
            return true
        }, "units of the crashed machine not running elsewhere after \(ContinuousClock.now - started)")
        #expect(try await cluster.registry.machine(victim) == nil)
        for (id, d) in cluster.daemons where id != victim { await d.shutdown(purge: true) }
        cluster.daemons.removeAll()
    }

    @Test func anotherEngineSchedulesWhenTheLeaderStops() async throws {
        var cluster = try await Self.makeCluster(["a", "b"])
        try await Self.submit(cluster.registry, "one.service")
        #expect(await EngineTests.eventually { await Self.running(cluster, "one.service").count == 1 })
        let lease = try await cluster.store.get("/fleet-test/lease/engine-leader", recursive: false, quorum: true).node
        let leader = try RegistryJSON.decode(EngineLease.self, from: try #require(lease?.value)).machineID
        await cluster.daemons[leader]!.shutdown(purge: false)
        cluster.systemd.removeValue(forKey: leader)
        try await Self.submit(cluster.registry, "two.service")
        #expect(await EngineTests.eventually { await Self.running(cluster, "two.service").count == 1 })
        for (id, d) in cluster.daemons where id != leader { await d.shutdown(purge: true) }
        cluster.daemons.removeAll()
    }
}

@Suite struct MachineHeartbeatTests {
    static func registry() -> Registry {
        let backend = UnreplicatedBackend(name: "s", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        backend.startExpiry()
        return Registry(store: InProcessStoreClient(backend: backend))
    }

    @Test func takesOverItsOwnStaleRecordButNotAnotherMachines() async throws {
        let registry = Self.registry()
        let me = MachineState(id: "m1", publicIP: "10.0.0.1")
        try await registry.createMachine(me, ttl: 60)
        let restarted = MachineHeartbeat(registry: registry, machine: me, ttl: 5, logger: FleetDaemonTests.quiet)
        try await restarted.announceOnce()
        #expect(await restarted.isPresent)

        let clone = MachineHeartbeat(
            registry: registry, machine: MachineState(id: "m1", publicIP: "10.0.0.9"), ttl: 5,
            logger: FleetDaemonTests.quiet)
        await #expect(throws: RegistryError.machineAlreadyPresent("m1")) { try await clone.announceOnce() }
        #expect(try await registry.machine("m1")?.publicIP == "10.0.0.1")
    }

    @Test func announcesAgainAfterExpiry() async throws {
        let registry = Self.registry()
        let heartbeat = MachineHeartbeat(
            registry: registry, machine: MachineState(id: "m2", publicIP: "10.0.0.2"), ttl: 1,
            logger: FleetDaemonTests.quiet)
        try await heartbeat.announceOnce()
        #expect(await EngineTests.eventually { (try? await registry.machine("m2")) == nil })
        try await heartbeat.refresh()
        #expect(try await registry.machine("m2")?.publicIP == "10.0.0.2")
        await heartbeat.withdraw()
        #expect(try await registry.machine("m2") == nil)
    }
}

extension MachineHeartbeatTests {
    @Test func runRecordsTheLongestGapBetweenRefreshes() async throws {
        let registry = Self.registry()
        let heartbeat = MachineHeartbeat(
            registry: registry, machine: MachineState(id: "m3", publicIP: "10.0.0.3"), ttl: 3,
            logger: FleetDaemonTests.quiet)
        try await heartbeat.announceOnce()
        #expect(await heartbeat.longestRefreshGap == nil)
        let running = Task { await heartbeat.run() }
        defer { running.cancel() }
        // Two refreshes a second apart (a third of the TTL): the gap is at least that interval. No
        // upper bound here: how late refreshes come under load is measured, not asserted.
        #expect(await EngineTests.eventually(30) { await heartbeat.longestRefreshGap != nil })
        let gap = try #require(await heartbeat.longestRefreshGap)
        let interval = await heartbeat.refreshInterval
        #expect(gap >= interval)
        #expect(try await registry.machine("m3")?.publicIP == "10.0.0.3")
        running.cancel()
        await running.value
    }
}

@Suite struct DaemonIdentityTests {
    @Test func socketActivationVariables() throws {
        let none = try SocketActivation.fromEnvironment([:], pid: 42)
        #expect(none.sockets.isEmpty)
        let other = try SocketActivation.fromEnvironment(["LISTEN_PID": "7", "LISTEN_FDS": "1"], pid: 42)
        #expect(other.sockets.isEmpty)
        let mine = try SocketActivation.fromEnvironment(
            ["LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "fleetd.socket:tcp"], pid: 42)
        #expect(mine.sockets.map(\.fileDescriptor) == [3, 4])
        #expect(mine.sockets.map(\.name) == ["fleetd.socket", "tcp"])
        #expect(throws: FleetDaemonError.self) { try SocketActivation.fromEnvironment(["LISTEN_FDS": "1"], pid: 42) }
        #expect(throws: FleetDaemonError.self) {
            try SocketActivation.fromEnvironment(["LISTEN_PID": "42", "LISTEN_FDS": "x"], pid: 42)
        }
    }

    @Test func apiListenersAndTheAdvertisedURL() throws {
        var config = FleetConfig()
        config.apiListen = ["unix:///var/run/fleet.sock", "http://0.0.0.0:49153"]
        let plain = try FleetDaemon.apiListeners(config: config, activation: SocketActivation(sockets: []))
        #expect(plain == [.unix(path: "/var/run/fleet.sock"), .tcp(host: "0.0.0.0", port: 49153)])
        let activated = try FleetDaemon.apiListeners(
            config: config, activation: SocketActivation(sockets: [.init(fileDescriptor: 3, name: "fleetd.socket")]))
        #expect(activated == [.fileDescriptor(3), .tcp(host: "0.0.0.0", port: 49153)])
        let machine = MachineState(id: "m", publicIP: "10.0.0.7")
        #expect(FleetDaemon.advertisedAPIURL(config: config, machine: machine, listeners: plain) == "http://10.0.0.7:49153")
        #expect(FleetDaemon.advertisedAPIURL(config: config, machine: machine, listeners: [.tcp(host: "127.0.0.1", port: 1)]) == nil)
        config.apiAdvertiseURL = "http://lb:80"
        #expect(FleetDaemon.advertisedAPIURL(config: config, machine: machine, listeners: plain) == "http://lb:80")
    }

    @Test func machineIDFileIsChecked() throws {
        let dir = "/tmp/fleet-swift-machine-id-\(freeLoopbackPort())"
        _ = try ChildProcess.run(["mkdir", "-p", dir])
        defer { _ = try? ChildProcess.run(["rm", "-rf", dir]) }
        func write(_ text: String) throws -> String {
            let path = dir + "/machine-id"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        #expect(try MachineIdentity.machineID(path: write("0123456789abcdef0123456789abcdef\n")) == "0123456789abcdef0123456789abcdef")
        #expect(throws: FleetDaemonError.self) { try MachineIdentity.machineID(path: write("\n")) }
        #expect(throws: FleetDaemonError.self) { try MachineIdentity.machineID(path: write("not-an-id")) }
        #expect(throws: FleetDaemonError.self) { try MachineIdentity.machineID(path: dir + "/missing") }
        let message = "\(FleetDaemonError.machineID(path: "/etc/machine-id", reason: "the file is empty"))"
        #expect(message.contains("unable to determine local machine ID from /etc/machine-id"))
    }

    @Test func defaultRouteInterfaceFromTheRouteTable() {
        let table = """
            Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
            eth1\t004D0A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
            eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
            """
        #expect(MachineIdentity.defaultRouteInterface(table) == "eth0")
        #expect(MachineIdentity.defaultRouteInterface("Iface\tDestination\n") == nil)
    }
}
