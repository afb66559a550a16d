#if canImport(Glibc)
import Glibc
#endif

/// Where to reach systemd.
///
/// Root talks to PID 1 directly on `/run/systemd/private` (no dbus-daemon involved, no `Hello`), which
/// keeps working when the system bus is down; everyone else goes through the system bus, as fleetd did
/// under CoreOS with a polkit rule. Tests on the host reach a container's systemd through the
/// container's root: ``machine(rootPath:)``.
public enum BusAddress: Hashable, Sendable, CustomStringConvertible {
    /// The system bus (`$DBUS_SYSTEM_BUS_ADDRESS`, default `/run/dbus/system_bus_socket`); sends `Hello`.
    case system
    /// systemd's private socket at the given path; direct peer connection, no `Hello`.
    case systemdPrivate(socketPath: String)
    /// Any sd-bus address (`unix:path=...`); `busClient` says whether to send `Hello` (true for a dbus-daemon).
    case custom(address: String, busClient: Bool)

    /// The private socket of the local systemd.
    public static let localPrivate = BusAddress.systemdPrivate(socketPath: "/run/systemd/private")

    /// `/run/systemd/private` when running as root and the socket exists, the system bus otherwise.
    public static var automatic: BusAddress {
        if geteuid() == 0 && access("/run/systemd/private", F_OK) == 0 { return .localPrivate }
        return .system
    }

    /// The private socket of the systemd running in a container whose root is visible at `rootPath`
    /// (e.g. `/proc/<leader pid>/root`). Requires root *and* being in the container's PID namespace:
    /// systemd 252 refuses private connections from peers whose PID it cannot see. From the host, use
    /// ``machineSystemBus(rootPath:)``.
    public static func machinePrivate(rootPath: String) -> BusAddress {
        .systemdPrivate(socketPath: rootPath + "/run/systemd/private")
    }

    /// systemd's private socket in the container whose PID 1 has host PID `leaderPID`, reached through
    /// `nsenter` + `systemd-stdio-bridge` run inside the container's namespaces (an sd-bus `unixexec:`
    /// address). The bridge connects from inside the container's PID namespace, which the private socket
    /// requires, so the host gets the same direct connection fleetd has inside. Requires root.
    public static func machinePrivateBridge(leaderPID: Int32, nsenter: String = "/usr/bin/nsenter") -> BusAddress {
        let argv = [
            "nsenter", "-t", String(leaderPID), "-p", "-m", "--", "systemd-stdio-bridge",
            "--bus-path=unix:path=/run/systemd/private",
        ]
        let args = argv.enumerated().map { "argv\($0.offset)=\($0.element)" }.joined(separator: ",")
        return .custom(address: "unixexec:path=\(nsenter),\(args)", busClient: false)
    }

    /// The system bus (dbus-daemon) of a container whose root is visible at `rootPath`; works from the
    /// host as root, since dbus-daemon, unlike systemd's private socket, accepts peers from another PID
    /// namespace. Signals are routed by the daemon (match rules are sent as `AddMatch`).
    public static func machineSystemBus(rootPath: String) -> BusAddress {
        .custom(address: "unix:path=\(rootPath)/run/dbus/system_bus_socket", busClient: true)
    }

    /// True when the peer is systemd itself rather than a message bus.
    public var isDirect: Bool {
        switch self {
        case .system: return false
        case .systemdPrivate: return true
        case .custom(_, let busClient): return !busClient
        }
    }

    public var description: String {
        switch self {
        case .system: return "system bus"
        case .systemdPrivate(let path): return "unix:path=\(path)"
        case .custom(let address, _): return address
        }
    }
}
