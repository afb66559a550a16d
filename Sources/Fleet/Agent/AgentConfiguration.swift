/// The agent's timings. fleet hard-coded the reconcile period (5 s) and derived the republish period
/// from `agent_ttl`; both are settable here so tests can run in milliseconds.
public struct AgentConfiguration: Hashable, Sendable {
    /// Reconcile at least this often, besides on every change notification.
    public var reconcileInterval: Duration
    /// Publish every unit state at least this often (refreshes TTLs, repairs lost keys).
    public var republishInterval: Duration
    /// Wait this long before subscribing to systemd's events again after the stream ended.
    public var resubscribeDelay: Duration
    /// Purge rounds on shutdown and the pause between them (fleet: until done, 1 s apart).
    public var purgeRounds: Int
    public var purgePause: Duration
    /// How long a pass asked for by change notifications waits for more of them (``ChangeCoalescing``).
    public var coalescing: ChangeCoalescing

    public init(
        reconcileInterval: Duration = .seconds(5), republishInterval: Duration = .seconds(24),
        resubscribeDelay: Duration = .seconds(1), purgeRounds: Int = 10, purgePause: Duration = .seconds(1),
        coalescing: ChangeCoalescing = ChangeCoalescing()
    ) {
        self.reconcileInterval = reconcileInterval
        self.republishInterval = republishInterval
        self.resubscribeDelay = resubscribeDelay
        self.purgeRounds = purgeRounds
        self.purgePause = purgePause
        self.coalescing = coalescing
    }

    /// fleet's defaults for an `agent_ttl`: republish every ttl×4/5, or ttl/2 when ttl ≤ 10 s.
    public init(agentTTL: Duration, coalescing: ChangeCoalescing = ChangeCoalescing()) {
        let republish = agentTTL <= .seconds(10) ? agentTTL / 2 : agentTTL * 4 / 5
        self.init(republishInterval: republish, coalescing: coalescing)
    }
}
