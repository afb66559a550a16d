/// What went wrong in an agent pass, each saying what the agent does about it so an operator reading
/// the log knows whether to act.
public enum AgentError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The desired units could not be read; nothing was changed on this machine.
    case sourceUnavailable(String)
    /// A task failed; the other tasks of its kind still ran, the later kinds of the pass were skipped.
    case taskFailed(AgentTask, String)
    /// systemd could not be asked for unit states or events.
    case systemdUnavailable(String)
    /// States could not be written to the cluster.
    case publishFailed(String)

    public var description: String {
        switch self {
        case .sourceUnavailable(let why):
            return "cannot read the units scheduled here (\(why)); leaving every local unit as it is, retrying on the next pass"
        case .taskFailed(let task, let why):
            return "\(task) failed: \(why); skipped the later steps of the pass, retrying on the next one"
        case .systemdUnavailable(let why):
            return "cannot query systemd (\(why)); is systemd reachable on the bus? retrying"
        case .publishFailed(let why):
            return "cannot publish unit states (\(why)); will publish them again when the store answers"
        }
    }
}
