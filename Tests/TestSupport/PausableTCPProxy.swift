import Foundation
import Synchronization

/// A TCP proxy on loopback in front of a server, which a test can make silent: while paused it
/// forwards nothing and closes nothing, so requests on open connections hang and new connections
/// complete (the kernel's backlog) but are never answered, as with a member that is partitioned
/// away or stopped (SIGSTOP). That is the case a client's timeouts must handle: no reset ever comes.
public final class PausableTCPProxy: @unchecked Sendable {
    /// The proxy's loopback port.
    public let port: Int
    private let targetPort: Int
    private let listener: Int32
    private let paused = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    private let sockets = Mutex<[Int32]>([])

    public init(targetPort: Int) throws {
        self.targetPort = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError.socket(errno) }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            Glibc.close(fd)
            throw ProxyError.socket(errno)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit { close() }

    /// Stops forwarding in both directions and stops accepting (connections still complete).
    public func pause() { paused.store(true, ordering: .sequentiallyConsistent) }

    /// Forwards again.
    public func resume() { paused.store(false, ordering: .sequentiallyConsistent) }

    /// Closes the listener and every connection.
    public func close() {
        guard !closed.exchange(true, ordering: .sequentiallyConsistent) else { return }
        for fd in sockets.withLock({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    public enum ProxyError: Error { case socket(Int32) }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }

    /// Waits up to 50 ms for `fd` to become readable.
    private static func readable(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 50) > 0
    }

    private func acceptLoop() {
        while !closed.load(ordering: .sequentiallyConsistent) {
            if paused.load(ordering: .sequentiallyConsistent) || !Self.readable(listener) {
                if paused.load(ordering: .sequentiallyConsistent) { usleep(50_000) }
                continue
            }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: UInt16(targetPort))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                Glibc.close(client)
                Glibc.close(server)
                continue
            }
            sockets.withLock { $0 += [client, server] }
            Thread.detachNewThread { [self] in pump(from: client, to: server) }
            Thread.detachNewThread { [self] in pump(from: server, to: client) }
        }
        Glibc.close(listener)
    }

    /// Copies bytes until either side closes; while paused, reads nothing (so nothing is sent on).
    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !closed.load(ordering: .sequentiallyConsistent) {
            if paused.load(ordering: .sequentiallyConsistent) {
                usleep(50_000)
                continue
            }
            guard Self.readable(source), !paused.load(ordering: .sequentiallyConsistent) else { continue }
            let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            var sent = 0
            while sent < n {
                let m = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + sent, n - sent) }
                guard m > 0 else { break }
                sent += m
            }
        }
        shutdown(destination, Int32(SHUT_WR))
    }
}
