/// Counts of what an ``Engine``'s passes did, for benchmarks and tests (``Engine/statistics``).
///
/// Why: the periodic safety pass must stay cheap without being weakened, and these counts show it —
/// how many full reads were compared with the followed model, how often the model was found in
/// agreement (no rebuild, and no plan when the last plan wanted no writes) and how often it had
/// diverged and was rebuilt.
public struct EngineStatistics: Sendable, Equatable {
    /// Passes that planned from the followed model without reading the registry.
    public var eventPasses = 0
    /// Full quorum reads of the registry (first pass of a tenure, safety passes, retries).
    public var fullReads = 0
    /// Full reads that found the followed model holding exactly what the store holds.
    public var modelsConfirmed = 0
    /// Full reads that found the followed model diverged from the store, which rebuilt it.
    public var modelRebuilds = 0
    /// Safety passes that found the model confirmed and already planned with no writes wanted, so
    /// did not plan again.
    public var plansSkipped = 0

    public init() {}
}
