import CSystemd
import Testing

@testable import Fleet

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket bound to a fresh path, standing in for systemd's notify socket.
final class DatagramListener {
    let path: String
    let fd: Int32

    init() throws {
        path = "/tmp/fleet-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SystemdError.notify(socket: path, code: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else { throw SystemdError.notify(socket: path, code: errno) }
        // Bound every receive: a missing datagram fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram's payload, or nil on timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    deinit {
        close(fd)
        unlink(path)
    }
}

@Suite struct ServiceNotifierTests {
    @Test func sendsExactlyTheStateStringAsOneDatagram() throws {
        let listener = try DatagramListener()
        let notifier = ServiceNotifier(socketPath: listener.path)
        #expect(try notifier.ready(status: "Agent running, 3 units"))
        #expect(listener.receive() == "READY=1\nSTATUS=Agent running, 3 units")
        #expect(try notifier.watchdog())
        #expect(listener.receive() == "WATCHDOG=1")
        try notifier.status("line one\nline two")
        #expect(listener.receive() == "STATUS=line one line two")
        try notifier.notify([.stopping, .mainPID(42), .errno(5), .extendTimeout(microseconds: 10), .watchdogTrigger])
        #expect(listener.receive() == "STOPPING=1\nMAINPID=42\nERRNO=5\nEXTEND_TIMEOUT_USEC=10\nWATCHDOG=trigger")
    }

    @Test func withoutSocketNothingIsSent() throws {
        let notifier = ServiceNotifier(socketPath: nil)
        #expect(!notifier.isEnabled)
        #expect(try !notifier.ready())
        #expect(!ServiceNotifier(socketPath: "").isEnabled)
    }

    @Test func aMissingSocketIsATypedError() {
        let notifier = ServiceNotifier(socketPath: "/nonexistent/fleet-notify.sock")
        #expect(throws: SystemdError.notify(socket: "/nonexistent/fleet-notify.sock", code: ENOENT)) {
            try notifier.watchdog()
        }
    }

    @Test func watchdogIntervalIsHalfTheTimeoutForThisProcess() {
        let pid: Int32 = 1234
        #expect(
            ServiceNotifier.watchdogPingInterval(environment: ["WATCHDOG_USEC": "20000000"], pid: pid) == .seconds(10))
        #expect(
            ServiceNotifier.watchdogPingInterval(
                environment: ["WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1234"], pid: pid)
                == .seconds(10))
        #expect(
            ServiceNotifier.watchdogPingInterval(
                environment: ["WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "99"], pid: pid)
                == nil)
        #expect(ServiceNotifier.watchdogPingInterval(environment: [:], pid: pid) == nil)
        #expect(ServiceNotifier.watchdogPingInterval(environment: ["WATCHDOG_USEC": "0"], pid: pid) == nil)
    }
}
