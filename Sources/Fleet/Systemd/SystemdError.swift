#if canImport(Glibc)
import Glibc
#endif

/// An error reply received over D-Bus, kept verbatim.
///
/// systemd reports most failures as D-Bus errors (for example `org.freedesktop.systemd1.NoSuchUnit`);
/// keeping the name lets callers branch on the kind of failure while the message, written by systemd,
/// tells a human what went wrong.
public struct BusError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`.
    public var name: String
    /// The human-readable message systemd attached, e.g. `Unit nope.service not found.`
    public var message: String

    public init(name: String, message: String) {
        self.name = name
        self.message = message
    }

    /// Well-known error names, so callers need not spell them out.
    public enum Name {
        public static let noSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
        public static let noSuchJob = "org.freedesktop.systemd1.NoSuchJob"
        public static let loadFailed = "org.freedesktop.systemd1.LoadFailed"
        public static let badUnitSetting = "org.freedesktop.systemd1.BadUnitSetting"
        public static let unitMasked = "org.freedesktop.systemd1.UnitMasked"
        public static let jobFailed = "org.freedesktop.systemd1.JobFailed"
        public static let noReply = "org.freedesktop.DBus.Error.NoReply"
        public static let accessDenied = "org.freedesktop.DBus.Error.AccessDenied"
        public static let unknownMethod = "org.freedesktop.DBus.Error.UnknownMethod"
        public static let fileNotFound = "org.freedesktop.DBus.Error.FileNotFound"
        public static let invalidArgs = "org.freedesktop.DBus.Error.InvalidArgs"
    }

    /// True when systemd does not know the unit (neither loaded nor loadable by that name).
    public var isNoSuchUnit: Bool { name == Name.noSuchUnit }

    public var description: String { "\(name): \(message)" }
}

/// Everything that can go wrong talking to systemd, typed so that callers (the agent) can decide
/// whether to retry, report or give up, and each case's description says what to do about it.
public enum SystemdError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Opening the bus connection failed (socket missing, permission denied, ...). `code` is an errno.
    case connectionFailed(address: String, code: Int32)
    /// The peer accepted the socket connection but closed it before authentication finished. systemd 252
    /// does this on `/run/systemd/private` for non-root peers and for peers outside its PID namespace
    /// ("Incoming private connection from unprivileged client, refusing").
    case connectionRefused(address: String, reason: String)
    /// The connection was closed (by us or by the peer) while an operation was pending or requested.
    case disconnected(reason: String)
    /// systemd (or the bus) answered a method call with an error.
    case dbus(member: String, error: BusError)
    /// A libsystemd call failed locally with a negative errno (message building, sending, matching).
    case call(operation: String, code: Int32)
    /// The reply did not have the shape the D-Bus API documents.
    case unexpectedReply(member: String, detail: String)
    /// A unit file was linked and systemd reloaded, but systemd could not load it.
    case unitNotLoaded(unit: String, loadState: String)
    /// A job finished with a result other than `done`.
    case jobFailed(unit: String, job: String, result: String)
    /// A wait bounded by the caller ran out.
    case timedOut(operation: String, seconds: Double)
    /// Reading or following the journal failed; `code` is an errno.
    case journal(operation: String, code: Int32)
    /// A unit name was rejected before reaching systemd.
    case invalidUnitName(String)
    /// Sending an sd_notify datagram failed; `code` is an errno.
    case notify(socket: String, code: Int32)
    /// Writing or removing a unit file on disk failed; `code` is an errno.
    case unitFile(path: String, operation: String, code: Int32)

    /// The D-Bus error name when systemd answered with an error, for branching without pattern matching.
    public var busErrorName: String? {
        if case .dbus(_, let error) = self { return error.name }
        return nil
    }

    /// True when the failure is systemd not knowing the unit.
    public var isNoSuchUnit: Bool { busErrorName == BusError.Name.noSuchUnit }

    public var description: String {
        switch self {
        case .connectionFailed(let address, let code):
            return "cannot connect to systemd at \(address): \(errnoText(code))"
                + " (is systemd running there, and are we root for /run/systemd/private?)"
        case .connectionRefused(let address, let reason):
            return "systemd at \(address) closed the connection during authentication (\(reason));"
                + " its private socket only accepts root in the same PID namespace: use the system bus"
                + " (BusAddress.system, or .machineSystemBus for a container) otherwise"
        case .disconnected(let reason):
            return "connection to systemd closed: \(reason); reconnect to continue"
        case .dbus(let member, let error):
            return "systemd refused \(member): \(error.message) [\(error.name)]"
        case .call(let operation, let code):
            return "\(operation) failed: \(errnoText(code))"
        case .unexpectedReply(let member, let detail):
            return "unexpected reply to \(member): \(detail)"
        case .unitNotLoaded(let unit, let loadState):
            return "systemd could not load \(unit) (load state \(loadState));"
                + " check the unit file, e.g. journalctl -u \(unit) or systemd-analyze verify"
        case .jobFailed(let unit, let job, let result):
            return "job \(job) for \(unit) finished with result '\(result)'; see journalctl -u \(unit)"
        case .timedOut(let operation, let seconds):
            return "\(operation) did not finish within \(seconds) s"
        case .journal(let operation, let code):
            return "journal \(operation) failed: \(errnoText(code))"
        case .invalidUnitName(let name):
            return "invalid unit name '\(name)': expected NAME.TYPE (e.g. hello.service) without '/'"
        case .notify(let socket, let code):
            return "cannot notify systemd via \(socket): \(errnoText(code)); is NOTIFY_SOCKET stale?"
        case .unitFile(let path, let operation, let code):
            return "cannot \(operation) unit file \(path): \(errnoText(code))"
        }
    }
}

/// `strerror` text for a positive or negative errno, as libsystemd returns negative ones.
func errnoText(_ code: Int32) -> String {
    let positive = code < 0 ? -code : code
    if let text = strerror(positive) { return "\(String(cString: text)) (errno \(positive))" }
    return "errno \(positive)"
}
