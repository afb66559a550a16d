/// Every way a fleetctl command can fail, each rendered as one line that names the unit, file or
/// endpoint and the cause, and each mapped to a ``FleetctlExitCode``.
public enum CLIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A wrong command line; the message says what and how to fix it.
    case usage(String)
    /// An API call failed; `context` says what was being done (e.g. "starting unit a.service").
    case api(FleetAPIError, context: String)
    /// The unit is neither in the registry nor (where that applies) a local file or template.
    case unitNotFound(String)
    /// Lazy submit found no unit in the registry and nothing usable on disk.
    case unitFileNotFound(name: String, path: String, reason: String)
    /// A local unit file that does not parse.
    case malformedUnitFile(path: String, UnitFileError)
    /// An argument that is no valid unit name even after adding `.service`.
    case invalidUnitName(argument: String, UnitNameError)
    /// Neither the registry nor the local directory has the template of an instance.
    case templateNotFound(instance: String, template: String)
    /// A blocking wait ran out of --block-attempts.
    case timedOut(unit: String, state: String)
    /// systemd reports the unit failed while fleetctl waited for it to become active.
    case unitFailed(unit: String, machine: String, activeState: String, subState: String)
    /// `load`/`start` of a template (`foo@.service`), which only instances can be.
    case cannotActivateTemplate(String)
    /// `stop` of a unit that is not loaded anywhere.
    case cannotStop(unit: String, state: String)
    /// status/journal of a unit that runs nowhere.
    case notRunning(String)
    /// A machine ID prefix or name that matches nothing or more than one thing.
    case machineNotFound(String)
    case ambiguous(String)
    /// A local failure (cannot read a file, cannot exec ssh).
    case local(String)

    public var exitCode: FleetctlExitCode {
        switch self {
        case .usage, .invalidUnitName: return .usage
        case .api(let error, _):
            switch error {
            case .unreachable, .timedOut: return .unreachable
            case .invalidEndpoint: return .usage
            default: return .failure
            }
        default: return .failure
        }
    }

    public var description: String {
        switch self {
        case .usage(let message): return message
        case .api(let error, let context): return "Error \(context): \(error)"
        case .unitNotFound(let name): return "Unit \(name) does not exist."
        case .unitFileNotFound(let name, let path, let reason):
            return "Unit \(name) is not in the registry and cannot be read from \(path): \(reason)"
        case .malformedUnitFile(let path, let error): return "Unable to parse unit file \(path): \(error)"
        case .invalidUnitName(let argument, let error): return "Invalid unit \"\(argument)\": \(error)"
        case .templateNotFound(let instance, let template):
            return "Unable to find unit \(instance): no template \(template) in the registry or the local directory"
        case .timedOut(let unit, let state): return "timed out waiting for unit \(unit) to report state \(state)"
        case .unitFailed(let unit, let machine, let active, let sub):
            return "Unit \(unit) failed on \(machine): ActiveState=\(active) SubState=\(sub)"
        case .cannotActivateTemplate(let name):
            return "cannot activate template \"\(name)\": start an instance such as \(name.replacing("@.", with: "@1."))"
        case .cannotStop(let unit, let state): return "Unable to stop unit \(unit) in state \(state)"
        case .notRunning(let unit): return "Unit \(unit) does not appear to be running."
        case .machineNotFound(let what): return "No machine or unit matches \"\(what)\""
        case .ambiguous(let message): return message
        case .local(let message): return message
        }
    }
}
