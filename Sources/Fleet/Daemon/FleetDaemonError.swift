/// Why fleetd could not start or keep running, phrased so the operator knows what to fix.
public enum FleetDaemonError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `/etc/machine-id` is missing, empty or malformed.
    case machineID(path: String, reason: String)
    /// An API listener could not be opened.
    case apiListen(address: String, reason: String)
    /// The API advertise URL or a listen URL is malformed.
    case badURL(option: String, value: String)
    /// systemd's socket activation variables are inconsistent.
    case socketActivation(String)
    /// The store could not be reached or configured.
    case store(String)
    /// systemd could not be reached for the agent.
    case systemd(String)
    /// TLS files named by options could not be used.
    case tls(options: String, reason: String)

    public var description: String {
        switch self {
        case .machineID(let path, let reason):
            return "unable to determine local machine ID from \(path): \(reason) (run systemd-machine-id-setup)"
        case .apiListen(let address, let reason): return "cannot serve the fleet API on \(address): \(reason)"
        case .badURL(let option, let value):
            return "invalid \(option) \"\(value)\": expected unix:///path, http://host:port or https://host:port"
        case .socketActivation(let why): return "socket activation: \(why)"
        case .store(let why): return "store: \(why)"
        case .systemd(let why): return "cannot reach systemd for the agent: \(why)"
        case .tls(let options, let reason): return "\(options): \(reason)"
        }
    }
}
