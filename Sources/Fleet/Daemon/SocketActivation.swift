#if canImport(Glibc)
import Glibc
#endif

/// Sockets passed by systemd (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`), as sd_listen_fds(3)
/// defines them: descriptors 3, 4, … belong to this process when `LISTEN_PID` is its PID.
///
/// Why it matters: with `fleetd.socket`, `/var/run/fleet.sock` accepts connections while fleetd
/// restarts, so fleetctl never sees "connection refused" during an upgrade.
public struct SocketActivation: Sendable, Equatable {
    /// The first passed descriptor (`SD_LISTEN_FDS_START`).
    public static let firstDescriptor: Int32 = 3

    public struct Socket: Sendable, Equatable {
        public var fileDescriptor: Int32
        /// From `LISTEN_FDNAMES` (`FileDescriptorName=`, default the socket unit's name).
        public var name: String
    }

    public var sockets: [Socket]

    /// Reads the variables; none set means no activation. A `LISTEN_PID` naming another process is
    /// ignored (the variables were inherited), as sd_listen_fds does.
    public static func fromEnvironment(_ environment: [String: String], pid: Int32 = getpid())
        throws(FleetDaemonError) -> SocketActivation
    {
        guard let countText = environment["LISTEN_FDS"] else { return SocketActivation(sockets: []) }
        guard let pidText = environment["LISTEN_PID"], let listenPID = Int32(pidText) else {
            throw .socketActivation("LISTEN_FDS is set but LISTEN_PID is missing or not a number")
        }
        guard listenPID == pid else { return SocketActivation(sockets: []) }
        guard let count = Int(countText), count >= 0, count < 1024 else {
            throw .socketActivation("LISTEN_FDS=\"\(countText)\" is not a descriptor count")
        }
        let names = environment["LISTEN_FDNAMES"].map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        return SocketActivation(sockets: (0..<count).map { i in
            Socket(fileDescriptor: firstDescriptor + Int32(i), name: i < names.count ? names[i] : "unknown")
        })
    }

    /// Marks the descriptors close-on-exec (units started later must not inherit the API socket)
    /// and removes the variables, so child processes do not believe they were activated.
    public func adopt() {
        for socket in sockets { _ = fcntl(socket.fileDescriptor, F_SETFD, FD_CLOEXEC) }
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
    }
}
