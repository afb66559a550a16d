/// Blocks until units reach a state, as fleetctl's `--block-attempts` does: each attempt is a 2 s
/// window, and 0 attempts means wait forever.
///
/// fleet polled every 250 ms, which made a start that is done in 0.2 s look like 0.25–0.5 s. Here
/// the first second is polled every 50 ms, then the pause grows by half each poll up to 250 ms
/// (``pause(afterPoll:)``), so a quick answer is seen quickly and a long wait costs fleet's rate.
/// With many units a pause is never shorter than the poll before it took, so a slow poll (a loaded
/// cluster) does not turn into polling without pause. Attempts count the time paused, not polls. Within one poll the units are checked concurrently
/// (``BoundedConcurrency``), and share their reads (``PollReads``): waiting for 1,000 units costs a
/// poll three listings, not 3,000 requests.
///
/// Unlike fleet, progress is visible: whenever what a unit is waiting for changes, one line on
/// stderr says where it is (`web@1.service: loaded on abcd1234.../10.0.0.1, waiting for launched`).
/// Each unit's final result (`Unit X launched on …`) is printed on stdout as soon as it is reached,
/// in fleet's wording; units that run out of attempts or fail each produce one error.
public struct StateWaiter: Sendable {
    /// What a unit's check found in one poll.
    public enum Status: Sendable, Equatable {
        /// Reached; the line to print on stdout (nil prints nothing).
        case done(String?)
        /// Not yet; a description of where it is, for the progress line.
        case waiting(String)
        /// Cannot be reached any more.
        case failed(CLIError)
    }

    /// One unit to wait for: the state named in the timeout message and how to check it, reading
    /// through the poll's shared ``PollReads``.
    public struct Goal: Sendable {
        public var unit: String
        public var state: String
        public var check: @Sendable (PollReads) async throws(CLIError) -> Status
        public init(unit: String, state: String, check: @escaping @Sendable (PollReads) async throws(CLIError) -> Status) {
            self.unit = unit
            self.state = state
            self.check = check
        }
    }

    /// The pause between polls once the quick first second is over (fleet's interval).
    public static let pollInterval: Duration = .milliseconds(250)
    /// The pause between polls in the first ``quickPhase``.
    public static let quickPollInterval: Duration = .milliseconds(50)
    /// How long polls come every ``quickPollInterval``.
    public static let quickPhase: Duration = .seconds(1)
    /// One `--block-attempts` attempt.
    public static let attemptWindow: Duration = .seconds(2)

    let context: FleetctlContext
    /// `--block-attempts`; 0 waits forever.
    let attempts: Int

    public init(context: FleetctlContext, attempts: Int) {
        self.context = context
        self.attempts = attempts
    }

    /// The pause after a poll, given the time already paused: 50 ms through the first second, then
    /// growing by half each poll up to 250 ms.
    public static func pause(afterWaiting waited: Duration, previous: Duration?) -> Duration {
        guard waited >= quickPhase else { return quickPollInterval }
        let grown = (previous ?? quickPollInterval) * 3 / 2
        return min(max(grown, quickPollInterval), pollInterval)
    }

    /// How many consecutive polls span at least `window` of pausing, counted from the start of a
    /// wait (so from its quickest polls): a bound on polls that is at least that long in time.
    public static func polls(covering window: Duration) -> Int {
        var waited = Duration.zero
        var previous: Duration?
        var polls = 0
        while waited < window {
            let pause = pause(afterWaiting: waited, previous: previous)
            waited += pause
            previous = pause
            polls += 1
        }
        return polls
    }

    /// Waits for every goal; returns the errors of those that failed or timed out (empty: all reached).
    public func wait(for goals: [Goal]) async -> [CLIError] {
        var pending = goals
        var lastProgress: [String: String] = [:]
        var errors: [CLIError] = []
        var waited = Duration.zero
        var previous: Duration?
        let budget = Self.attemptWindow * attempts
        while !pending.isEmpty {
            let polled = ContinuousClock.now
            let reads = PollReads(context: context, units: pending.count)
            let statuses = await BoundedConcurrency.map(pending) { goal -> Status in
                do throws(CLIError) { return try await goal.check(reads) } catch { return .failed(error) }
            }
            var still: [Goal] = []
            for (goal, status) in zip(pending, statuses) {
                switch status {
                case .done(let line):
                    if let line { context.console.out(line + "\n") }
                case .failed(let error):
                    errors.append(error)
                case .waiting(let where_):
                    if lastProgress[goal.unit] != where_ {
                        lastProgress[goal.unit] = where_
                        context.console.err("\(goal.unit): \(where_), waiting for \(goal.state)\n")
                    }
                    still.append(goal)
                }
            }
            pending = still
            if pending.isEmpty { break }
            if attempts > 0 && waited >= budget {
                errors += pending.map { .timedOut(unit: $0.unit, state: $0.state) }
                break
            }
            let scheduled = Self.pause(afterWaiting: waited, previous: previous)
            var pause = scheduled
            if reads.bulk {
                // A poll of many units that took longer than the pause (listings of 1,000 units
                // through a loaded cluster) is followed by a pause as long as it, so fleetctl polls
                // at most half the time; never past the end of the last attempt.
                pause = max(scheduled, ContinuousClock.now - polled)
                if attempts > 0 { pause = min(pause, max(scheduled, budget - waited)) }
            }
            waited += pause
            previous = scheduled
            do { try await context.pause(pause) } catch {
                errors += pending.map { .timedOut(unit: $0.unit, state: $0.state) }
                break
            }
        }
        return errors
    }
}
