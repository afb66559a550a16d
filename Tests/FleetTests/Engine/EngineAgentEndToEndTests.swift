import Logging
import Testing
import TestSupport
@testable import Fleet

/// Engine and agent wired through the registry on a real etcd, systemd replaced by
/// ``InMemoryUnitManager``: a submitted unit is scheduled, loaded, started and reported launched,
/// and unloading it takes it back off the machine. Only store events drive both loops here (their
/// periodic passes are a minute apart).
@Suite struct EngineAgentEndToEndTests {
    @Test func submitToLaunchedAndBack() async throws {
        let etcd = try RealEtcd()
        let keys = RegistryKeyLayout(prefix: "/e2e/")
        let registry = Registry(store: try EtcdV2Client(urls: etcd.clientURL), keys: keys)
        let machine = MachineState(id: "m1")
        try await registry.createMachine(machine, ttl: 60)

        let quiet = Logger(label: "e2e", factory: { _ in SwiftLogNoOpLogHandler() })
        let engine = Engine(registry: registry, configuration: EngineConfiguration(
            machineID: "m1", leaseTTL: 5, safetyInterval: .seconds(60), debounce: .milliseconds(10)), logger: quiet)
        let systemd = InMemoryUnitManager()
        let agent = Agent(
            machine: machine, source: RegistryAgentSource(registry: registry, machineID: "m1", ttl: 60),
            units: systemd, configuration: AgentConfiguration(reconcileInterval: .seconds(60)), logger: quiet)
        let engineRun = Task { await engine.run() }
        let agentRun = Task { await agent.run() }

        func current() async throws -> FleetState? {
            let snapshot = try await registry.snapshot()
            return snapshot.units.first.map { snapshot.currentState(of: $0) }
        }

        let submitted = ContinuousClock.now
        try await registry.createUnit(try RegistryUnit(
            name: "hello.service", text: "[Service]\nExecStart=/bin/sleep 1000\n", desiredState: .launched))
        #expect(try await EngineTests.eventually { try await current() == .launched })
        print("submit to launched (100 ms polling): \(ContinuousClock.now - submitted)")
        #expect(try await registry.target(of: "hello.service") == "m1")
        #expect(try await registry.unitStates("hello.service")["hello.service"]?["m1"]?.activeState == "active")

        try await registry.setDesiredState("hello.service", to: .inactive)
        #expect(try await EngineTests.eventually {
            let state = try await current()
            let published = try await registry.unitStates()
            return state == .inactive && published.isEmpty
        })
        // The agent may unload on the desired state alone, before the engine's unschedule lands.
        #expect(try await EngineTests.eventually { try await registry.target(of: "hello.service") == nil })

        agentRun.cancel()
        engineRun.cancel()
        await agentRun.value
        await engineRun.value
    }
}
