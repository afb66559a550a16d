import CSystemd
import Synchronization

@testable import Fleet

#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for systemd's private socket: a unix socket served by an sd-bus *server* on a thread of its
/// own, answering a few Manager methods the way systemd 252 does and emitting signals on request. Lets
/// the binding's decoding, error mapping and disconnect handling be tested without a running systemd.
final class FakeSystemdPeer: @unchecked Sendable {
    enum Command {
        case unitStateChanged(path: String, states: [(String, String)])
        case hangUp
    }

    let socketPath: String
    private let listenFD: Int32
    private let commands = Mutex<[Command]>([])
    private let calls = Mutex<[String]>([])
    /// Set when the serving thread has finished.
    private let finished = Mutex(false)

    // Serving thread only.
    private var bus: OpaquePointer?
    private var hangUpRequested = false

    /// Method names received so far, in order.
    var receivedCalls: [String] { calls.withLock { $0 } }

    init() throws {
        socketPath = "/tmp/fleet-fake-systemd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        listenFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard listenFD >= 0, bound == 0, listen(listenFD, 1) == 0 else {
            throw SystemdError.call(operation: "fake systemd listen", code: errno)
        }
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        pthread_create(
            &thread, nil,
            { context in
                let peer = Unmanaged<FakeSystemdPeer>.fromOpaque(context!).takeRetainedValue()
                peer.serve()
                return nil
            }, context)
        pthread_detach(thread)
    }

    var address: BusAddress { .systemdPrivate(socketPath: socketPath) }

    func send(_ command: Command) { commands.withLock { $0.append(command) } }

    private func serve() {
        defer {
            close(listenFD)
            unlink(socketPath)
            finished.withLock { $0 = true }
        }
        // Accept with a bound, so a test that never connects does not leave this thread behind.
        var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 60_000) == 1 else { return }
        let fd = accept(listenFD, nil, nil)
        guard fd >= 0 else { return }
        var newBus: OpaquePointer? = nil
        var id = sd_id128_t()
        sd_id128_randomize(&id)
        guard sd_bus_new(&newBus) >= 0, let bus = newBus, sd_bus_set_fd(bus, fd, fd) >= 0,
            sd_bus_set_server(bus, 1, id) >= 0, sd_bus_start(bus) >= 0
        else {
            close(fd)
            return
        }
        self.bus = bus
        defer { sd_bus_flush_close_unref(bus) }
        sd_bus_add_filter(
            bus, nil,
            { message, userdata, _ in
                guard let message else { return 0 }
                return Unmanaged<FakeSystemdPeer>.fromOpaque(userdata!).takeUnretainedValue().handle(message)
            }, Unmanaged.passUnretained(self).toOpaque())
        // Up to 60 s of serving, in 20 ms waits: plenty for any test even on a loaded machine,
        // bounded if one misbehaves.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            while sd_bus_process(bus, nil) > 0 {}
            for command in commands.withLock({
                let all = $0
                $0.removeAll()
                return all
            }) {
                switch command {
                case .unitStateChanged(let path, let states): emitPropertiesChanged(path: path, states: states)
                case .hangUp: hangUpRequested = true
                }
            }
            if hangUpRequested { return }
            if sd_bus_wait(bus, 20_000) < 0 { return }
        }
    }

    /// Answers one method call; returns 1 when handled.
    private func handle(_ message: OpaquePointer) -> Int32 {
        var type: UInt8 = 0
        sd_bus_message_get_type(message, &type)
        guard type == UInt8(SD_BUS_MESSAGE_METHOD_CALL), let bus,
            let memberPointer = sd_bus_message_get_member(message)
        else { return 0 }
        let member = String(cString: memberPointer)
        calls.withLock { $0.append(member) }
        switch member {
        case "Subscribe":
            reply(to: message) { _ in }
        case "GetUnit":
            var name: UnsafePointer<CChar>? = nil
            csd_bus_message_read_string(message, CChar(UInt8(ascii: "s")), &name)
            let unit = name.map { String(cString: $0) } ?? "?"
            var error = csd_bus_error_null()
            sd_bus_error_set(&error, BusError.Name.noSuchUnit, "Unit \(unit) not loaded.")
            sd_bus_reply_method_error(message, &error)
            sd_bus_error_free(&error)
        case "StartUnit":
            var name: UnsafePointer<CChar>? = nil
            csd_bus_message_read_string(message, CChar(UInt8(ascii: "s")), &name)
            let unit = name.map { String(cString: $0) } ?? "?"
            let job = "/org/freedesktop/systemd1/job/7"
            reply(to: message) { csd_bus_message_append_string($0, CChar(UInt8(ascii: "o")), job) }
            let path = BusPath.unitPath(unit)
            emitPropertiesChanged(path: path, states: [("ActiveState", "activating"), ("SubState", "start")])
            emitPropertiesChanged(path: path, states: [("ActiveState", "active"), ("SubState", "running")])
            emitSignal(path: BusPath.manager, interface: "org.freedesktop.systemd1.Manager", member: "JobRemoved") {
                csd_bus_message_append_uint32($0, 7)
                csd_bus_message_append_string($0, CChar(UInt8(ascii: "o")), job)
                csd_bus_message_append_string($0, CChar(UInt8(ascii: "s")), unit)
                csd_bus_message_append_string($0, CChar(UInt8(ascii: "s")), "done")
            }
        case "ListUnitsByNames":
            reply(to: message) { reply in
                sd_bus_message_open_container(reply, CChar(UInt8(ascii: "a")), "(ssssssouso)")
                sd_bus_message_open_container(reply, CChar(UInt8(ascii: "r")), "ssssssouso")
                for value in ["x.service", "", "not-found", "inactive", "dead", ""] {
                    csd_bus_message_append_string(reply, CChar(UInt8(ascii: "s")), value)
                }
                csd_bus_message_append_string(reply, CChar(UInt8(ascii: "o")), BusPath.unitPath("x.service"))
                csd_bus_message_append_uint32(reply, 0)
                csd_bus_message_append_string(reply, CChar(UInt8(ascii: "s")), "")
                csd_bus_message_append_string(reply, CChar(UInt8(ascii: "o")), "/")
                sd_bus_message_close_container(reply)
                sd_bus_message_close_container(reply)
            }
        case "Reload":
            // Never answered: the test hangs up with this call pending.
            break
        default:
            var error = csd_bus_error_null()
            sd_bus_error_set(&error, BusError.Name.unknownMethod, "Unknown method \(member)")
            sd_bus_reply_method_error(message, &error)
            sd_bus_error_free(&error)
        }
        _ = bus
        return 1
    }

    private func reply(to call: OpaquePointer, _ build: (OpaquePointer) -> Void) {
        var reply: OpaquePointer? = nil
        guard sd_bus_message_new_method_return(call, &reply) >= 0, let reply else { return }
        build(reply)
        sd_bus_send(bus, reply, nil)
        sd_bus_message_unref(reply)
    }

    private func emitSignal(path: String, interface: String, member: String, _ build: (OpaquePointer) -> Void) {
        var signal: OpaquePointer? = nil
        guard sd_bus_message_new_signal(bus, &signal, path, interface, member) >= 0, let signal else { return }
        build(signal)
        sd_bus_send(bus, signal, nil)
        sd_bus_message_unref(signal)
    }

    /// `PropertiesChanged("org.freedesktop.systemd1.Unit", {states..., ActiveEnterTimestamp: t}, [])`; the
    /// non-string entry checks that decoding skips what it does not want.
    private func emitPropertiesChanged(path: String, states: [(String, String)]) {
        emitSignal(path: path, interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged") { signal in
            csd_bus_message_append_string(signal, CChar(UInt8(ascii: "s")), "org.freedesktop.systemd1.Unit")
            sd_bus_message_open_container(signal, CChar(UInt8(ascii: "a")), "{sv}")
            sd_bus_message_open_container(signal, CChar(UInt8(ascii: "e")), "sv")
            csd_bus_message_append_string(signal, CChar(UInt8(ascii: "s")), "ActiveEnterTimestamp")
            sd_bus_message_open_container(signal, CChar(UInt8(ascii: "v")), "t")
            var stamp: UInt64 = 1_700_000_000_000_000
            sd_bus_message_append_basic(signal, CChar(UInt8(ascii: "t")), &stamp)
            sd_bus_message_close_container(signal)
            sd_bus_message_close_container(signal)
            for (key, value) in states {
                sd_bus_message_open_container(signal, CChar(UInt8(ascii: "e")), "sv")
                csd_bus_message_append_string(signal, CChar(UInt8(ascii: "s")), key)
                sd_bus_message_open_container(signal, CChar(UInt8(ascii: "v")), "s")
                csd_bus_message_append_string(signal, CChar(UInt8(ascii: "s")), value)
                sd_bus_message_close_container(signal)
                sd_bus_message_close_container(signal)
            }
            sd_bus_message_close_container(signal)
            sd_bus_message_open_container(signal, CChar(UInt8(ascii: "a")), "s")
            sd_bus_message_close_container(signal)
        }
    }
}
