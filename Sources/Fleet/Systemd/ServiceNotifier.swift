#if canImport(Glibc)
import Glibc
#endif

/// One key of an sd_notify message.
public enum NotifyState: Hashable, Sendable {
    /// `READY=1`: start-up finished (for `Type=notify` units).
    case ready
    /// `RELOADING=1`.
    case reloading
    /// `STOPPING=1`.
    case stopping
    /// `STATUS=...`: one line shown by `systemctl status`; newlines are replaced by spaces.
    case status(String)
    /// `WATCHDOG=1`: keep-alive ping for `WatchdogSec=`.
    case watchdog
    /// `WATCHDOG=trigger`: ask systemd to act as if the watchdog expired.
    case watchdogTrigger
    /// `MAINPID=...`.
    case mainPID(Int32)
    /// `ERRNO=...`: the errno the service failed with.
    case errno(Int32)
    /// `EXTEND_TIMEOUT_USEC=...`.
    case extendTimeout(microseconds: UInt64)

    /// The `KEY=VALUE` line.
    public var line: String {
        switch self {
        case .ready: return "READY=1"
        case .reloading: return "RELOADING=1"
        case .stopping: return "STOPPING=1"
        case .status(let text):
            return "STATUS=" + String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        case .watchdog: return "WATCHDOG=1"
        case .watchdogTrigger: return "WATCHDOG=trigger"
        case .mainPID(let pid): return "MAINPID=\(pid)"
        case .errno(let code): return "ERRNO=\(code)"
        case .extendTimeout(let usec): return "EXTEND_TIMEOUT_USEC=\(usec)"
        }
    }
}

/// Tells the service manager about this process's state (`sd_notify(3)`).
///
/// Implemented directly (one datagram to `$NOTIFY_SOCKET`, as go-systemd does) rather than through
/// libsystemd's `sd_notify`, so the socket can be injected: tests and embedders need not mutate the
/// process environment. The kernel attaches our credentials because systemd sets `SO_PASSCRED`.
/// Without a socket (not started by systemd, or not `Type=notify`) every call is a no-op returning false.
public struct ServiceNotifier: Sendable {
    /// The datagram socket path; a leading `@` means the abstract namespace. Nil disables notifications.
    public let socketPath: String?

    public init(socketPath: String?) {
        self.socketPath = socketPath.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The notifier for `$NOTIFY_SOCKET`.
    public static func fromEnvironment() -> ServiceNotifier {
        ServiceNotifier(socketPath: getenv("NOTIFY_SOCKET").map { String(cString: $0) })
    }

    /// Whether there is a socket to notify.
    public var isEnabled: Bool { socketPath != nil }

    /// The payload for `states`: their lines joined by newlines.
    public static func message(_ states: [NotifyState]) -> String {
        states.map(\.line).joined(separator: "\n")
    }

    /// Sends `states` in one datagram; returns false when notifications are disabled.
    @discardableResult
    public func notify(_ states: [NotifyState]) throws -> Bool {
        guard let socketPath else { return false }
        try Self.send(Self.message(states), to: socketPath)
        return true
    }

    /// `READY=1`, with an optional status line.
    @discardableResult
    public func ready(status: String? = nil) throws -> Bool {
        try notify([.ready] + (status.map { [.status($0)] } ?? []))
    }

    /// `STATUS=...`.
    @discardableResult
    public func status(_ text: String) throws -> Bool { try notify([.status(text)]) }

    /// `WATCHDOG=1`.
    @discardableResult
    public func watchdog() throws -> Bool { try notify([.watchdog]) }

    /// `STOPPING=1`.
    @discardableResult
    public func stopping() throws -> Bool { try notify([.stopping]) }

    /// How often to ping the watchdog: half of `WATCHDOG_USEC` (as sd_watchdog_enabled(3) recommends),
    /// or nil when the watchdog is off or meant for another process (`WATCHDOG_PID`).
    public static func watchdogPingInterval(environment: [String: String], pid: Int32 = getpid()) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != pid { return nil }
        return .microseconds(Int64(clamping: usec / 2))
    }

    /// ``watchdogPingInterval(environment:pid:)`` for this process's environment.
    public static func watchdogPingInterval() -> Duration? {
        var environment: [String: String] = [:]
        for key in ["WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(key) { environment[key] = String(cString: value) }
        }
        return watchdogPingInterval(environment: environment)
    }

    private static func send(_ message: String, to path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemdError.notify(socket: path, code: errno) }
        defer { close(fd) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { throw SystemdError.notify(socket: path, code: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: pathBytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let length = socklen_t(pathOffset + pathBytes.count + (abstract ? 0 : 1))

        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                bytes.withUnsafeBytes { buffer in
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
                }
            }
        }
        if sent < 0 { throw SystemdError.notify(socket: path, code: errno) }
    }
}
