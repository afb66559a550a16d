import NIOCore

/// Decides which of a peer's failed deliveries are worth a log line.
///
/// Why: a sender retries a dead peer every ``PeerSender/retryPause`` (100 ms), and one warning per
/// attempt put ten lines a second per dead member into the journal, enough to bury everything else a
/// survivor logged while a member was down, and to run into journald's rate limit. The first failure
/// of a streak is logged, then one reminder per ``reminderInterval`` with the count, and the recovery.
/// Raft still hears of every failure (``PeerTransport/unreachable``); only the log is thinned.
struct PeerFailureStreak {
    /// What to log for one outcome.
    enum Report: Equatable {
        /// The first failure after a success (or since start).
        case unreachable
        /// Still failing: `failures` attempts failed since the streak began, `since` ago.
        case stillUnreachable(failures: Int, since: TimeAmount)
        /// A delivery succeeded after `failures` failed attempts over `after`.
        case reachableAgain(failures: Int, after: TimeAmount)
    }

    static let reminderInterval: TimeAmount = .seconds(30)

    private var failures = 0
    private var began: NIODeadline?
    private var lastReport: NIODeadline?

    /// A delivery failed at `now`; the report to log, if any.
    mutating func failed(at now: NIODeadline) -> Report? {
        failures += 1
        guard let began, let lastReport else {
            began = now
            lastReport = now
            return .unreachable
        }
        guard now - lastReport >= Self.reminderInterval else { return nil }
        self.lastReport = now
        return .stillUnreachable(failures: failures, since: now - began)
    }

    /// A delivery succeeded at `now`; reports the recovery if a streak was under way.
    mutating func succeeded(at now: NIODeadline) -> Report? {
        defer { failures = 0; began = nil; lastReport = nil }
        guard let began, failures > 0 else { return nil }
        return .reachableAgain(failures: failures, after: now - began)
    }
}
