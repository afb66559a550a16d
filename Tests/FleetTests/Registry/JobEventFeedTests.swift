import Foundation
import KV
import Testing
@testable import Fleet

/// The `job/` feed shared by the agents of one process: each machine still reaches the answer of
/// a full read, events about other machines' units are not delivered at all, and a subscriber that
/// falls behind is told (`historyCleared`) rather than silently skipped.
@Suite struct JobEventFeedTests {
    static let text = "[Unit]\nDescription=t\n\n[Service]\nExecStart=/bin/sleep 1000\n"
    static let machines = ["m1", "m2", "m3"].map { MachineState(id: $0, metadata: ["disk": "ssd"]) }

    static func registry() -> Registry {
        let backend = UnreplicatedBackend(name: "f", peerURLs: ["http://127.0.0.1:1"], clientURLs: [])
        return Registry(store: InProcessStoreClient(backend: backend), keys: RegistryKeyLayout(prefix: "/f/"))
    }

    static func agrees(_ registry: Registry, _ sources: [RegistryAgentSource]) async throws -> Bool {
        try await EngineTests.eventually {
            let snapshot = try await registry.snapshot(quorum: false)
            for (source, machine) in zip(sources, machines) {
                guard source.isLive else { return false }
                let reference = DesiredUnit.toRun(on: machine, units: snapshot.units.map(\.unit),
                                                  schedule: snapshot.schedule)
                guard try await source.desiredUnits(for: machine) == reference else { return false }
            }
            return true
        }
    }

    @Test func machinesSharingOneFeedEachReachTheFullReadAnswer() async throws {
        let registry = Self.registry()
        let feed = JobEventFeed(registry: registry)
        let sources = Self.machines.map { RegistryAgentSource(registry: registry, machineID: $0.id, ttl: 30, feed: feed) }
        var followers: [Task<Void, Never>] = []
        for source in sources {
            let stream = await source.changes()
            followers.append(Task { for await _ in stream {} })
        }
        #expect(await EngineTests.eventually { sources.allSatisfy(\.isLive) })
        #expect(feed.subscriberCount == 3)
        var rng = SplitMix64(state: 7)
        var created: Set<String> = []
        for step in 0..<240 {
            let name = "u\(Int.random(in: 0..<20, using: &rng)).service"
            switch Int.random(in: 0..<9, using: &rng) {
            case 0, 1:
                guard !created.contains(name) else { continue }
                let extra = Bool.random(using: &rng) ? "\n[X-Fleet]\nGlobal=true\n" : ""
                try await registry.createUnit(try RegistryUnit(name: name, text: Self.text + "X-Step=\(step)\n" + extra,
                                                               desiredState: .launched))
                created.insert(name)
            case 2, 3, 4:
                try await registry.store.set(registry.keys.jobTarget(name), value: ["m1", "m2", "m3", "m4"].randomElement(using: &rng)!)
            case 5:
                _ = try? await registry.store.delete(registry.keys.jobTarget(name), recursive: false, condition: .none)
            case 6:
                try await registry.store.set(registry.keys.jobTargetState(name), value: ["loaded", "launched", "inactive"].randomElement(using: &rng)!)
            case 7:
                try await registry.store.set(registry.keys.jobHeartbeat(name), value: "m1", ttl: 30)
            default:
                if created.remove(name) != nil { try await registry.destroyUnit(name) }
            }
            if step % 60 == 59 { #expect(try await Self.agrees(registry, sources), "step \(step)") }
        }
        #expect(try await Self.agrees(registry, sources))
        for f in followers { f.cancel() }
        #expect(await EngineTests.eventually { feed.subscriberCount == 0 })
    }

    @Test func eventsAboutOtherMachinesUnitsAreNotDelivered() async throws {
        let registry = Self.registry()
        let feed = JobEventFeed(registry: registry)
        let sub = try await feed.subscribe(machineID: "m1")
        sub.narrow(to: [])
        for i in 0..<20 {
            let name = "other\(i).service"
            try await registry.createUnit(try RegistryUnit(name: name, text: Self.text, desiredState: .launched))
            try await registry.schedule(name, on: "m2")
            try await registry.store.set(registry.keys.jobHeartbeat(name), value: "m2", ttl: 30)
        }
        try await registry.createUnit(try RegistryUnit(name: "g.service", text: Self.text + "[X-Fleet]\nGlobal=true\n",
                                                       desiredState: .launched))
        try await registry.createUnit(try RegistryUnit(name: "mine.service", text: Self.text, desiredState: .launched))
        try await registry.schedule("mine.service", on: "m1")
        // Only the possibly-global object and the target naming m1 come through, in order.
        let first = try await sub.next()
        let second = try await sub.next()
        #expect(first?.node.key == registry.keys.jobObject("g.service"))
        #expect(second?.node.key == registry.keys.jobTarget("mine.service"))
        // Once the unit is declared, its other events come through too.
        sub.want("mine.service")
        try await registry.setDesiredState("mine.service", to: .loaded)
        #expect(try await sub.next()?.node.key == registry.keys.jobTargetState("mine.service"))
        sub.drop("mine.service")
        try await registry.setDesiredState("mine.service", to: .launched)
        try await registry.schedule("late.service", on: "m1")
        #expect(try await sub.next()?.node.key == registry.keys.jobTarget("late.service"))
        sub.cancel()
    }

    @Test func aSubscriberThatFallsBehindIsToldNotSkipped() async throws {
        let registry = Self.registry()
        let feed = JobEventFeed(registry: registry, bufferSize: 3)
        let slow = try await feed.subscribe(machineID: "m1")
        for i in 0..<10 { try await registry.store.set(registry.keys.jobTarget("u\(i).service"), value: "m1") }
        // Nobody reads until the feed has given up on the subscriber: its buffer holds 3 events.
        #expect(await EngineTests.eventually { feed.subscriberCount == 0 })
        var got: [String] = []
        await #expect(throws: StoreClientError.self) {
            while let e = try await slow.next() { got.append(e.node.key) }
        }
        #expect(got == (0..<3).map { registry.keys.jobTarget("u\($0).service") })
        // A fresh subscription works again.
        let again = try await feed.subscribe(machineID: "m1")
        try await registry.store.set(registry.keys.jobTarget("v.service"), value: "m1")
        #expect(try await again.next()?.node.key == registry.keys.jobTarget("v.service"))
        again.cancel()
    }

    @Test func aBatchHandsOutEverythingQueuedInStoreOrder() async throws {
        let registry = Self.registry()
        let feed = JobEventFeed(registry: registry)
        let sub = try await feed.subscribe(machineID: "m1")
        sub.narrow(to: [])
        let keys = (0..<10).map { registry.keys.jobTarget("u\($0).service") }
        for key in keys { try await registry.store.set(key, value: "m1") }
        #expect(await EngineTests.eventually { sub.queued == 10 })
        #expect(try await sub.nextBatch()?.map(\.node.key) == keys)
        #expect(sub.queued == 0)
        // One at a time still works after a batch, and a batch waits for the next event.
        try await registry.store.set(registry.keys.jobTarget("v.service"), value: "m1")
        #expect(try await sub.next()?.node.key == registry.keys.jobTarget("v.service"))
        let waiting = Task { try await sub.nextBatch()?.map(\.node.key) }
        try await registry.store.set(registry.keys.jobTarget("w.service"), value: "m1")
        #expect(try await waiting.value == [registry.keys.jobTarget("w.service")])
        sub.cancel()
        #expect(try await sub.nextBatch() == nil)
    }

    @Test func aBatchOfASubscriberThatFellBehindEndsInTheError() async throws {
        let registry = Self.registry()
        let feed = JobEventFeed(registry: registry, bufferSize: 3)
        let slow = try await feed.subscribe(machineID: "m1")
        for i in 0..<10 { try await registry.store.set(registry.keys.jobTarget("u\(i).service"), value: "m1") }
        #expect(await EngineTests.eventually { feed.subscriberCount == 0 })
        #expect(try await slow.nextBatch()?.map(\.node.key) == (0..<3).map { registry.keys.jobTarget("u\($0).service") })
        await #expect(throws: StoreClientError.self) { _ = try await slow.nextBatch() }
    }

    @Test func keysAreSplitWithoutParsing() {
        let feed = JobEventFeed(registry: Self.registry())
        #expect(feed.split("/f/job/a.service/target").map { "\($0.unit)|\($0.leaf ?? "-")" } == "a.service|target")
        #expect(feed.split("/f/job/a.service").map { "\($0.unit)|\($0.leaf ?? "-")" } == "a.service|-")
        #expect(feed.split("/f/job/a.service/x/y") == nil)
        #expect(feed.split("/f/jobs/a") == nil)
        #expect(feed.split("/f/job/") == nil)
        #expect(AgentRegistryView.contains("abcGlobal", "Global"))
        #expect(!AgentRegistryView.contains("Globa", "Global"))
        #expect(AgentRegistryView.mayBeGlobal("{\"Name\":\"x\"}"))
        #expect(!AgentRegistryView.mayBeGlobal("{\"OriginalText\":\"[Unit]\"}"))
    }
}
