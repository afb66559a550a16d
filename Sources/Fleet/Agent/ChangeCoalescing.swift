/// When an agent starts the pass that a burst of change notifications asks for.
///
/// Why wait at all: when a machine dies the engine writes its units' new schedules one
/// compare-and-swap after another, so a survivor hears of its share over 0.1–0.2 s. A pass that
/// started on the first notification took only the units already scheduled, and the rest waited
/// for the whole of that pass (loads, then starts: 0.3–0.6 s) before a second one began
/// (bench-fleet 2026-11-24 16:23 UTC: the worker's passes of 53 then 95 tasks). Waiting until the
/// notifications pause (``quiet``) puts the burst into one pass; ``limit`` bounds the wait while they
/// keep coming, so a steady stream of changes still gets passes. A single `fleetctl start` waits
/// ``quiet`` once.
public struct ChangeCoalescing: Hashable, Sendable {
    /// How long the notifications must have paused before the pass starts; `.zero` starts it at once.
    public var quiet: Duration
    /// The longest wait after the first notification of a burst, however many follow.
    public var limit: Duration

    public init(quiet: Duration = .milliseconds(25), limit: Duration = .milliseconds(250)) {
        self.quiet = max(.zero, quiet)
        self.limit = max(.zero, limit)
    }

    /// No waiting: every notification asks for a pass at once (fleet's behaviour).
    public static let none = ChangeCoalescing(quiet: .zero, limit: .zero)

    /// When the pass may start for a burst that began at `first` and whose latest notification came
    /// at `last`: once the notifications paused for ``quiet``, at the latest ``limit`` after `first`.
    /// A `last` long past (notifications that came during the previous pass) means at once.
    public func start(first: ContinuousClock.Instant, last: ContinuousClock.Instant) -> ContinuousClock.Instant {
        min(last + quiet, first + limit)
    }
}
