import KV
@testable import Fleet

/// A `RegistryAgentSource` for machine m1, live (its watch running and followed) over a test
/// store that already holds `units` as launched units, none scheduled: where the agent-view tests
/// start from before they schedule units and look at what the view holds.
struct LiveAgentSource {
    let registry: Registry
    let source: RegistryAgentSource
    private let follower: Task<Void, Never>

    static func start(store: any StoreClient, keys: RegistryKeyLayout, units: [String]) async throws -> LiveAgentSource {
        let registry = Registry(store: store, keys: keys)
        for name in units {
            try await registry.createUnit(try RegistryUnit(name: name, text: JobEventFeedTests.text, desiredState: .launched))
        }
        let source = RegistryAgentSource(registry: registry, machineID: "m1", ttl: 30)
        let stream = await source.changes()
        let follower = Task { for await _ in stream {} }
        _ = await EngineTests.eventually { source.isLive }
        return LiveAgentSource(registry: registry, source: source, follower: follower)
    }

    /// The units the view holds for m1, by name, sorted.
    func desiredNames() async throws -> [String] {
        try await source.desiredUnits(for: MachineState(id: "m1")).map(\.name).sorted()
    }

    func stop() { follower.cancel() }
}
