/// One client operation on a key-value register, as recorded by a fault run or a test.
///
/// Times are logical: any strictly increasing counter shared by every client of one history (a
/// monotonic clock read in one process does). Only their order matters to the checker.
public struct RegisterOperation: Sendable, Hashable, CustomStringConvertible {
    /// What the client asked for. `nil` stands for "the key does not exist".
    public enum Kind: Sendable, Hashable {
        /// A read that returned `value` (quorum reads only: local reads may be stale by design).
        case read(String?)
        /// An unconditional write.
        case write(String)
        /// Compare-and-swap: set `new` if the current value is `expected` (etcd's `prevValue`).
        case cas(expected: String, new: String)
    }

    /// How the operation ended, from the client's point of view.
    public enum Outcome: Sendable, Hashable {
        /// Acknowledged: it took effect between invocation and completion.
        case ok
        /// Failed for sure (etcd error 101, a refused connection before anything was sent): no effect.
        case failed
        /// Timed out or the connection dropped: it may take effect at any time after its invocation,
        /// or never.
        case unknown
    }

    public var client: Int
    public var key: String
    public var kind: Kind
    public var outcome: Outcome
    public var invoked: UInt64
    /// Meaningless for `.unknown` outcomes (the checker treats their completion as +infinity).
    public var completed: UInt64

    public init(client: Int, key: String, kind: Kind, outcome: Outcome, invoked: UInt64, completed: UInt64) {
        self.client = client
        self.key = key
        self.kind = kind
        self.outcome = outcome
        self.invoked = invoked
        self.completed = completed
    }

    public var description: String {
        let what: String
        switch kind {
        case .read(let v): what = "read -> \(v ?? "nil")"
        case .write(let v): what = "write \(v)"
        case .cas(let e, let n): what = "cas \(e) -> \(n)"
        }
        return "c\(client) \(key) \(what) [\(outcome)] \(invoked)..\(outcome == .unknown ? "inf" : String(completed))"
    }
}
