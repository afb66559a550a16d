import CSystemd
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The thread that owns one sd_bus.
///
/// An sd_bus object may be used by one thread at a time, and its signals only arrive when someone calls
/// `sd_bus_process`. So every connection gets a dedicated thread that (1) runs closures submitted by
/// async callers (method calls, match changes), (2) polls the bus fd together with an eventfd used to
/// wake it, and (3) dispatches replies and signals. Everything below marked "bus thread" is touched only
/// there; the only shared state is the job queue behind a mutex.
final class BusLoop: @unchecked Sendable {
    typealias Job = @Sendable (BusLoop) -> Void

    private struct Queue {
        var jobs: [Job] = []
        var closed = false
        var closeReason = "closed by the client"
        /// False once the thread has closed `wakeFD`.
        var wakeOpen = true
    }

    let description: String
    private let wakeFD: Int32
    private let queue = Mutex(Queue())

    // Bus thread only.
    private(set) var bus: OpaquePointer?
    private var calls: [UInt64: CallBox] = [:]
    private var matches: [UInt64: MatchBox] = [:]
    private var nextID: UInt64 = 1
    private var openFailed = false
    private var readyWaiters: [(SystemdError?) -> Void] = []

    init(description: String) throws {
        self.description = description
        let fd = csd_eventfd()
        if fd < 0 { throw SystemdError.call(operation: "eventfd", code: errno) }
        self.wakeFD = fd
    }

    // MARK: Any thread

    /// Queues `job` for the bus thread; false once the loop is closed (the job will never run).
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        queue.withLock { queue in
            guard !queue.closed else { return false }
            queue.jobs.append(job)
            wake()
            return true
        }
    }

    /// Asks the thread to fail everything pending and release the bus.
    func close(reason: String = "closed by the client") {
        queue.withLock { queue in
            guard !queue.closed else { return }
            queue.closed = true
            queue.closeReason = reason
            wake()
        }
    }

    /// Caller holds the queue lock and has checked `closed`, so the fd is still open.
    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// Starts the dedicated thread. The thread keeps the loop alive until it exits.
    func start() throws {
        try startDetachedThread { self.run() }
    }

    // MARK: Bus thread

    private func run() {
        var reason = "closed by the client"
        loop: while true {
            let (jobs, closed, closeReason) = queue.withLock { queue in
                let jobs = queue.jobs
                queue.jobs.removeAll()
                return (jobs, queue.closed, queue.closeReason)
            }
            for job in jobs { job(self) }
            if closed {
                reason = closeReason
                break
            }
            if openFailed { break }
            guard let bus else {
                waitForWake(busFD: -1, events: 0, timeoutMS: -1)
                continue
            }
            while true {
                let result = sd_bus_process(bus, nil)
                if result < 0 {
                    reason = "connection lost: \(errnoText(result))"
                    break loop
                }
                if result == 0 { break }
                if queue.withLock({ $0.closed }) { continue loop }
            }
            if !readyWaiters.isEmpty && sd_bus_is_ready(bus) > 0 {
                let waiters = readyWaiters
                readyWaiters.removeAll()
                for waiter in waiters { waiter(nil) }
            }
            let fd = sd_bus_get_fd(bus)
            let events = sd_bus_get_events(bus)
            if fd < 0 || events < 0 {
                reason = "connection lost: \(errnoText(fd < 0 ? fd : events))"
                break
            }
            var deadline: UInt64 = 0
            var timeoutMS: Int32 = -1
            if sd_bus_get_timeout(bus, &deadline) >= 0 && deadline != UInt64.max {
                let now = csd_now_monotonic_usec()
                timeoutMS = deadline <= now ? 0 : Int32(clamping: (deadline - now + 999) / 1000)
            }
            waitForWake(busFD: fd, events: Int16(truncatingIfNeeded: events), timeoutMS: timeoutMS)
        }
        teardown(reason: reason)
    }

    private func waitForWake(busFD: Int32, events: Int16, timeoutMS: Int32) {
        var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        if busFD >= 0 { fds.append(pollfd(fd: busFD, events: events, revents: 0)) }
        let result = poll(&fds, nfds_t(fds.count), timeoutMS)
        if result > 0 && fds[0].revents & Int16(POLLIN) != 0 {
            var value: UInt64 = 0
            _ = Glibc.read(wakeFD, &value, 8)
        }
    }

    private func teardown(reason: String) {
        // Closing first means no job can be queued after the ones taken here.
        let leftover = queue.withLock { queue in
            queue.closed = true
            let jobs = queue.jobs
            queue.jobs.removeAll()
            return jobs
        }
        let error = SystemdError.disconnected(reason: reason)
        for waiter in readyWaiters { waiter(error) }
        readyWaiters.removeAll()
        for (_, box) in calls {
            sd_bus_slot_unref(box.slot)
            box.onReply(nil, error)
        }
        calls.removeAll()
        for (_, box) in matches {
            sd_bus_slot_unref(box.slot)
            box.onClose(error)
        }
        matches.removeAll()
        if let bus { sd_bus_flush_close_unref(bus) }
        bus = nil
        // Every job owns a continuation: run them against the closed loop so that each one fails
        // ("not connected") instead of being dropped, which would leave its caller waiting forever.
        for job in leftover { job(self) }
        queue.withLock { queue in
            _ = Glibc.close(wakeFD)
            queue.wakeOpen = false
        }
    }

    deinit {
        // Only reached without teardown when the thread never started.
        if queue.withLock({ $0.wakeOpen }) { _ = Glibc.close(wakeFD) }
    }

    /// Calls `waiter` once the connection is authenticated (and `Hello` answered, on a bus), or with
    /// the error that closed it first.
    func whenReady(_ waiter: @escaping (SystemdError?) -> Void) {
        readyWaiters.append(waiter)
    }

    /// Opens the connection; on failure the loop ends after this job.
    func open(_ address: BusAddress) throws {
        if queue.withLock({ $0.closed }) {
            openFailed = true
            throw SystemdError.disconnected(reason: "closed before connecting")
        }
        var newBus: OpaquePointer? = nil
        var result: Int32
        switch address {
        case .system:
            result = sd_bus_open_system(&newBus)
        case .systemdPrivate(let path):
            result = Self.openDirect(&newBus, address: "unix:path=\(path)", busClient: false)
        case .custom(let text, let busClient):
            result = Self.openDirect(&newBus, address: text, busClient: busClient)
        }
        if result < 0 || newBus == nil {
            openFailed = true
            if result == -EPIPE || result == -ECONNRESET {
                // The socket accepted us, then the peer hung up before our first write went out.
                throw SystemdError.connectionRefused(address: address.description, reason: errnoText(result))
            }
            throw SystemdError.connectionFailed(address: address.description, code: result)
        }
        bus = newBus
    }

    private static func openDirect(_ out: inout OpaquePointer?, address: String, busClient: Bool) -> Int32 {
        var bus: OpaquePointer? = nil
        var result = sd_bus_new(&bus)
        guard result >= 0, let bus else { return result }
        result = sd_bus_set_address(bus, address)
        if result >= 0 { result = sd_bus_set_bus_client(bus, busClient ? 1 : 0) }
        if result >= 0 { result = sd_bus_start(bus) }
        if result < 0 {
            sd_bus_unref(bus)
            return result
        }
        out = bus
        return result
    }

    /// Sends a method call; `onReply` runs on this thread with the reply (or an error) exactly once.
    func send(
        _ call: MethodCall, timeoutUSec: UInt64, build: (BusMessageWriter) throws -> Void,
        onReply: @escaping (OpaquePointer?, SystemdError?) -> Void
    ) {
        guard let bus else {
            onReply(nil, .disconnected(reason: "not connected"))
            return
        }
        var message: OpaquePointer? = nil
        var result = sd_bus_message_new_method_call(
            bus, &message, call.destination, call.path, call.interface, call.member)
        guard result >= 0, let message else {
            onReply(nil, .call(operation: "creating \(call.member)", code: result))
            return
        }
        defer { sd_bus_message_unref(message) }
        do {
            try build(BusMessageWriter(message: message, member: call.member))
        } catch {
            onReply(nil, error as? SystemdError ?? .call(operation: "building \(call.member)", code: -EINVAL))
            return
        }
        let id = nextID
        nextID += 1
        let box = CallBox(loop: self, id: id, onReply: onReply)
        var slot: OpaquePointer? = nil
        result = sd_bus_call_async(
            bus, &slot, message,
            { reply, userdata, _ in
                let box = Unmanaged<CallBox>.fromOpaque(userdata!).takeUnretainedValue()
                box.loop?.complete(box.id, reply: reply)
                return 1
            }, Unmanaged.passUnretained(box).toOpaque(), timeoutUSec)
        if result < 0 {
            onReply(nil, .call(operation: "sending \(call.member)", code: result))
            return
        }
        box.slot = slot
        calls[id] = box
    }

    private func complete(_ id: UInt64, reply: OpaquePointer?) {
        guard let box = calls.removeValue(forKey: id) else { return }
        let slot = box.slot
        box.onReply(reply, nil)
        sd_bus_slot_unref(slot)
    }

    /// Installs a match rule; `handler` runs on this thread for every matching message.
    func addMatch(
        _ rule: String, handler: @escaping (OpaquePointer) -> Void, onClose: @escaping (SystemdError) -> Void
    ) throws -> UInt64 {
        guard let bus else { throw SystemdError.disconnected(reason: "not connected") }
        let id = nextID
        nextID += 1
        let box = MatchBox(handler: handler, onClose: onClose)
        var slot: OpaquePointer? = nil
        let result = sd_bus_add_match(
            bus, &slot, rule,
            { message, userdata, _ in
                guard let message else { return 0 }
                Unmanaged<MatchBox>.fromOpaque(userdata!).takeUnretainedValue().handler(message)
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
        if result < 0 { throw SystemdError.call(operation: "adding match \(rule)", code: result) }
        box.slot = slot
        matches[id] = box
        return id
    }

    /// Removes a match; its `onClose` is not called.
    func removeMatch(_ id: UInt64) {
        guard let box = matches.removeValue(forKey: id) else { return }
        sd_bus_slot_unref(box.slot)
    }
}

/// A method call's target.
public struct MethodCall: Hashable, Sendable {
    public var destination: String
    public var path: String
    public var interface: String
    public var member: String

    public init(destination: String, path: String, interface: String, member: String) {
        self.destination = destination
        self.path = path
        self.interface = interface
        self.member = member
    }
}

/// A pending call; the loop's dictionary owns it, the C callback borrows it.
private final class CallBox {
    weak var loop: BusLoop?
    let id: UInt64
    let onReply: (OpaquePointer?, SystemdError?) -> Void
    var slot: OpaquePointer?

    init(loop: BusLoop, id: UInt64, onReply: @escaping (OpaquePointer?, SystemdError?) -> Void) {
        self.loop = loop
        self.id = id
        self.onReply = onReply
    }
}

/// An installed match; the loop's dictionary owns it, the C callback borrows it.
private final class MatchBox {
    let handler: (OpaquePointer) -> Void
    let onClose: (SystemdError) -> Void
    var slot: OpaquePointer?

    init(handler: @escaping (OpaquePointer) -> Void, onClose: @escaping (SystemdError) -> Void) {
        self.handler = handler
        self.onClose = onClose
    }
}
