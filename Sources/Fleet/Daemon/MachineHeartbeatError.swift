/// Why a presence refresh was given up.
public enum MachineHeartbeatError: Error, CustomStringConvertible, Equatable {
    /// The store did not answer within the attempt timeout (a Raft election, an overloaded member).
    case refreshTimedOut(Duration)

    public var description: String {
        switch self {
        case .refreshTimedOut(let timeout):
            return "the store did not confirm the presence refresh within \(timeout); retrying (is the store electing a leader or overloaded?)"
        }
    }
}
