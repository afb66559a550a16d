/// Blocks until units reach a state, as fleetctl's `--block-attempts` does: each attempt is a 2 s
/// window polled every 250 ms (8 polls), and 0 attempts means wait forever.
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

    /// One unit to wait for: the state named in the timeout message and how to check it.
    public struct Goal: Sendable {
        public var unit: String
        public var state: String
        public var check: @Sendable () async throws(CLIError) -> Status
        public init(unit: String, state: String, check: @escaping @Sendable () async throws(CLIError) -> Status) {
            self.unit = unit
            self.state = state
            self.check = check
        }
    }

    public static let pollInterval: Duration = .milliseconds(250)
    public static let pollsPerAttempt = 8

    let context: FleetctlContext
    /// `--block-attempts`; 0 waits forever.
    let attempts: Int

    public init(context: FleetctlContext, attempts: Int) {
        self.context = context
        self.attempts = attempts
    }

    /// Waits for every goal; returns the errors of those that failed or timed out (empty: all reached).
    public func wait(for goals: [Goal]) async -> [CLIError] {
        var pending = goals
        var lastProgress: [String: String] = [:]
        var errors: [CLIError] = []
        var polls = 0
        while !pending.isEmpty {
            var still: [Goal] = []
            for goal in pending {
                let status: Status
                do { status = try await goal.check() } catch { status = .failed(error) }
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
            polls += 1
            if attempts > 0 && polls >= attempts * Self.pollsPerAttempt {
                errors += pending.map { .timedOut(unit: $0.unit, state: $0.state) }
                break
            }
            do { try await context.pause(Self.pollInterval) } catch {
                errors += pending.map { .timedOut(unit: $0.unit, state: $0.state) }
                break
            }
        }
        return errors
    }
}
