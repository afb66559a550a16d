import Foundation
import KV
import Testing
@testable import Fleet

/// The incremental view behind ``RegistryAgentSource``: it must reach the same desired units as a
/// read of the whole registry, read only what concerns its machine, fall back to a full read when
/// the watch history is gone, and never make an agent stop units because the store failed.
@Suite struct AgentRegistryViewTests {
    static let text = "[Unit]\nDescription=t\n\n[Service]\nExecStart=/bin/sleep 1000\n"
    static let me = MachineState(id: "m1", metadata: ["disk": "ssd"])

    struct Setup {
        let direct: Registry
        let controlled: ControllableStore
        let source: RegistryAgentSource
    }

    static func setup() -> Setup {
        let backend = UnreplicatedBackend(name: "v", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        let store = InProcessStoreClient(backend: backend)
        let keys = RegistryKeyLayout(prefix: "/v/")
        let controlled = ControllableStore(store)
        let source = RegistryAgentSource(registry: Registry(store: controlled, keys: keys), machineID: me.id, ttl: 30)
        return Setup(direct: Registry(store: store, keys: keys), controlled: controlled, source: source)
    }

    /// What a read of the whole registry says `machine` should run (the answer before the view).
    static func reference(_ registry: Registry, _ machine: MachineState) async throws -> [DesiredUnit] {
        let snapshot = try await registry.snapshot(quorum: false)
        return DesiredUnit.toRun(on: machine, units: snapshot.units.map(\.unit), schedule: snapshot.schedule)
    }

    /// Consumes the source's notifications and waits (bounded) until its watch follows the store.
    static func follow(_ source: RegistryAgentSource) async -> Task<Void, Never> {
        let stream = await source.changes()
        let task = Task { for await _ in stream {} }
        _ = await EngineTests.eventually { source.isLive }
        return task
    }

    /// Waits (bounded) until the live view answers what a full read answers.
    static func agrees(_ s: Setup) async throws -> Bool {
        try await EngineTests.eventually {
            guard s.source.isLive else { return false }
            return try await s.source.desiredUnits(for: me) == reference(s.direct, me)
        }
    }

    @Test func randomEventSequencesReachTheFullReadAnswer() async throws {
        for seed in UInt64(1)...4 {
            let s = Self.setup()
            let follower = await Self.follow(s.source)
            var rng = SplitMix64(state: seed)
            var created: Set<String> = []
            for step in 0..<300 {
                let name = "u\(Int.random(in: 0..<25, using: &rng)).service"
                switch Int.random(in: 0..<10, using: &rng) {
                case 0, 1:
                    guard !created.contains(name) else { continue }
                    var extra = ""
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: extra = "\n[X-Fleet]\nGlobal=true\n"
                    case 1: extra = "\n[X-Fleet]\nGlobal=true\nMachineMetadata=disk=hdd\n"
                    case 2: extra = "\n[X-Fleet]\nMachineMetadata=disk=ssd\n"
                    default: break
                    }
                    let unit = try RegistryUnit(name: name, text: Self.text + "X-Step=\(step)\n" + extra, desiredState: .launched)
                    if Bool.random(using: &rng) {
                        try await s.direct.createUnit(unit)
                    } else {
                        // As fleet v1's fleetctl writes it: no submitted text in the object.
                        let keys = s.direct.keys
                        try await s.direct.store.set(keys.unitBlob(unit.hash), value: try RegistryJSON.encode(unit.blob))
                        try await s.direct.store.set(keys.jobObject(name), value: try RegistryJSON.encode(JobObject(name: name, unitHash: unit.hash)))
                        try await s.direct.store.set(keys.jobTargetState(name), value: "launched")
                    }
                    created.insert(name)
                case 2, 3, 4:
                    try await s.direct.store.set(s.direct.keys.jobTarget(name), value: ["m1", "m2", "m3"].randomElement(using: &rng)!)
                case 5:
                    _ = try? await s.direct.store.delete(s.direct.keys.jobTarget(name), recursive: false, condition: .none)
                case 6:
                    try await s.direct.store.set(s.direct.keys.jobTargetState(name), value: ["loaded", "launched", "inactive"].randomElement(using: &rng)!)
                case 7:
                    try await s.direct.store.set(s.direct.keys.jobHeartbeat(name), value: "m1", ttl: 30)
                default:
                    if created.remove(name) != nil { try await s.direct.destroyUnit(name) }
                }
                if step % 50 == 49 {
                    #expect(try await Self.agrees(s), "seed \(seed), step \(step)")
                }
            }
            #expect(try await Self.agrees(s), "seed \(seed)")
            // Only units scheduled here or global are kept.
            let snapshot = try await s.direct.snapshot(quorum: false)
            let relevant = snapshot.units.filter { $0.target == "m1" || $0.unit.options.isGlobal }.map(\.name)
            #expect(Set(s.source.keptUnits).isSubset(of: Set(relevant).union(snapshot.orphanTargets.filter { $0.value == "m1" }.keys)))
            follower.cancel()
        }
    }

    @Test func changesElsewhereCauseNoReadsAndNoNotifications() async throws {
        let s = Self.setup()
        try await s.direct.createUnit(try RegistryUnit(name: "here.service", text: Self.text, desiredState: .launched))
        try await s.direct.schedule("here.service", on: "m1")
        let stream = await s.source.changes()
        let notifications = Counter()
        let consumer = Task { for await _ in stream { notifications.add() } }
        #expect(await EngineTests.eventually { s.source.isLive && notifications.value >= 1 })
        #expect(try await s.source.desiredUnits(for: Self.me).map(\.name) == ["here.service"])

        let readsBefore = s.controlled.gets
        let seen = notifications.value
        for i in 0..<50 {
            let name = "other\(i).service"
            try await s.direct.createUnit(try RegistryUnit(name: name, text: Self.text, desiredState: .launched))
            try await s.direct.schedule(name, on: "m2")
            try await s.direct.store.set(s.direct.keys.jobHeartbeat(name), value: "m2", ttl: 30)
        }
        // A change here is seen; the 150 writes before it were not worth a read or a pass.
        try await s.direct.setDesiredState("here.service", to: .loaded)
        #expect(await EngineTests.eventually { notifications.value > seen })
        #expect(try await s.source.desiredUnits(for: Self.me).map(\.targetState) == [.loaded])
        #expect(s.controlled.gets == readsBefore)
        #expect(notifications.value == seen + 1)
        #expect(s.source.keptUnits == ["here.service"])
        consumer.cancel()
    }

    @Test func lostHistoryFallsBackToAFullRead() async throws {
        let s = Self.setup()
        let follower = await Self.follow(s.source)
        #expect(try await s.source.desiredUnits(for: Self.me).isEmpty)
        // The watch is held while more than the store's 1,000 events of history go by.
        s.controlled.holdWatches = true
        try await Task.sleep(for: .milliseconds(50))
        try await s.direct.createUnit(try RegistryUnit(name: "late.service", text: Self.text, desiredState: .launched))
        try await s.direct.schedule("late.service", on: "m1")
        for i in 0..<1100 { try await s.direct.store.set("/v/noise/\(i % 7)", value: "\(i)") }
        s.controlled.holdWatches = false
        #expect(try await Self.agrees(s))
        #expect(try await s.source.desiredUnits(for: Self.me).map(\.name) == ["late.service"])
        follower.cancel()
    }

    @Test func storeOutageNeverStopsUnits() async throws {
        let s = Self.setup()
        try await s.direct.createUnit(try RegistryUnit(name: "keep.service", text: Self.text, desiredState: .launched))
        try await s.direct.schedule("keep.service", on: "m1")
        let systemd = InMemoryUnitManager()
        let agent = Agent(machine: Self.me, source: s.source, units: systemd,
                          configuration: AgentConfiguration(reconcileInterval: .milliseconds(100)))
        let running = Task { await agent.run() }
        let active = { (try? await systemd.unitStates(["keep.service"]))?["keep.service"]?.activeState == .active }
        #expect(await EngineTests.eventually { await active() })

        s.controlled.unreachable = true
        // Any event makes the held watch notice the outage; then answers come from the store or not at all.
        try await s.direct.store.set("/v/job/other.service/target", value: "m2")
        #expect(await EngineTests.eventually { !s.source.isLive })
        await #expect(throws: (any Error).self) { try await s.source.desiredUnits(for: Self.me) }
        for _ in 0..<5 { await agent.reconcileOnce() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(await active())

        s.controlled.unreachable = false
        #expect(await EngineTests.eventually { s.source.isLive })
        #expect(await active())
        running.cancel()
        await running.value
    }

    @Test func anUnreadableUnitScheduledHereStopsTheLiveAnswer() async throws {
        let s = Self.setup()
        try await s.direct.createUnit(try RegistryUnit(name: "a.service", text: Self.text, desiredState: .launched))
        try await s.direct.schedule("a.service", on: "m1")
        let follower = await Self.follow(s.source)
        #expect(try await s.source.desiredUnits(for: Self.me).map(\.name) == ["a.service"])
        try await s.direct.store.set("/v/job/x.service/object", value: "{broken")
        try await s.direct.store.set("/v/job/x.service/target", value: "m2")
        try await s.direct.store.set("/v/job/y.service/object", value: "{broken")
        try await s.direct.store.set("/v/job/y.service/target", value: "m1")
        #expect(await EngineTests.eventually { s.source.keptUnits.contains("y.service") })
        await #expect(throws: AgentSourceError.self) { try await s.source.desiredUnits(for: Self.me) }
        follower.cancel()
    }
}

/// A thread-safe counter for observing a stream from a test.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
