import CSystemd
import Synchronization

/// A D-Bus connection (sd-bus) usable from Swift concurrency.
///
/// The sd_bus object lives on a private thread (see `BusLoop`); this type only submits work to it, so it
/// is safe to share. Method calls are asynchronous on the wire (`sd_bus_call_async`), so a slow call such
/// as `Reload` does not hold up signal delivery or other calls. Message building and decoding closures run
/// on the bus thread because sd-bus messages belong to it; they must copy out what they need.
///
/// Closing (explicitly or by dropping the last reference) fails pending calls and ends match streams with
/// ``SystemdError/disconnected(reason:)``.
public final class SystemdBus: Sendable {
    /// Where this connection goes.
    public let address: BusAddress
    let loop: BusLoop

    private init(address: BusAddress, loop: BusLoop) {
        self.address = address
        self.loop = loop
    }

    deinit { loop.close() }

    /// Connects to `address` and waits until the connection is authenticated. Fails with
    /// ``SystemdError/connectionFailed(address:code:)`` when the socket is missing or cannot be opened, and
    /// ``SystemdError/connectionRefused(address:reason:)`` when the peer closes it during authentication.
    public static func connect(_ address: BusAddress) async throws -> SystemdBus {
        let loop = try BusLoop(description: address.description)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.submit { loop in
                do {
                    try loop.open(address)
                    loop.whenReady { error in
                        if let error {
                            continuation.resume(
                                throwing: SystemdError.connectionRefused(
                                    address: address.description, reason: "\(error)"))
                        } else {
                            continuation.resume()
                        }
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            do {
                try loop.start()
            } catch {
                loop.close()
                continuation.resume(throwing: error)
            }
        }
        return SystemdBus(address: address, loop: loop)
    }

    /// Closes the connection; later calls fail with ``SystemdError/disconnected(reason:)``.
    public func close() {
        loop.close()
    }

    /// Calls a method and decodes its reply.
    ///
    /// - Parameters:
    ///   - timeout: how long systemd may take to answer; nil uses sd-bus's default (25 s). A call is not
    ///     abandoned when the calling task is cancelled: it ends with the reply or this timeout.
    ///   - build: appends the arguments (bus thread).
    ///   - decode: reads the reply (bus thread). A D-Bus error reply throws ``SystemdError/dbus(member:error:)``
    ///     instead, carrying the error name and message.
    public func call<T: Sendable>(
        _ call: MethodCall, timeout: Duration? = nil,
        build: @escaping @Sendable (BusMessageWriter) throws -> Void = { _ in },
        decode: @escaping @Sendable (BusMessageReader) throws -> T
    ) async throws -> T {
        let usec = timeout.map { UInt64(max(1, $0 / .microseconds(1))) } ?? 0
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = loop.submit { loop in
                loop.send(call, timeoutUSec: usec, build: build) { reply, failure in
                    if let failure {
                        continuation.resume(throwing: failure)
                        return
                    }
                    guard let reply else {
                        continuation.resume(throwing: SystemdError.disconnected(reason: "no reply"))
                        return
                    }
                    continuation.resume(with: Result { try Self.decodeReply(reply, member: call.member, decode) })
                }
            }
            if !accepted {
                continuation.resume(throwing: SystemdError.disconnected(reason: "connection already closed"))
            }
        }
    }

    /// Calls a method that returns nothing of interest.
    public func call(
        _ call: MethodCall, timeout: Duration? = nil,
        build: @escaping @Sendable (BusMessageWriter) throws -> Void = { _ in }
    ) async throws {
        try await self.call(call, timeout: timeout, build: build) { _ in () }
    }

    static func decodeReply<T>(
        _ reply: OpaquePointer, member: String, _ decode: (BusMessageReader) throws -> T
    ) throws -> T {
        if sd_bus_message_is_method_error(reply, nil) > 0 {
            let error = sd_bus_message_get_error(reply)
            let name = csd_bus_error_name(error).map { String(cString: $0) } ?? "org.freedesktop.DBus.Error.Failed"
            let message = csd_bus_error_message(error).map { String(cString: $0) } ?? ""
            throw SystemdError.dbus(member: member, error: BusError(name: name, message: message))
        }
        return try decode(BusMessageReader(message: reply, member: member))
    }

    /// Installs a D-Bus match rule (e.g. `type='signal',member='JobRemoved'`) and returns its messages,
    /// decoded by `decode` on the bus thread (nil drops the message), as an async sequence.
    ///
    /// The match is active when this returns, so a caller can subscribe first and then trigger the
    /// action whose signal it wants to see. Ending the iteration (or cancelling the task) removes the
    /// match; closing the connection ends the sequence with an error.
    public func messages<T: Sendable>(
        matching rule: String, decode: @escaping @Sendable (BusMessageReader) throws -> T?
    ) async throws -> AsyncThrowingStream<T, any Error> {
        let (stream, continuation) = AsyncThrowingStream<T, any Error>.makeStream()
        let match = try await addMatch(
            rule,
            handler: { reader in
                if let value = try? decode(reader) { continuation.yield(value) }
            },
            onClose: { error in continuation.finish(throwing: error) })
        continuation.onTermination = { _ in match.cancel() }
        return stream
    }

    /// Installs a D-Bus match rule and calls `handler` on the bus thread for each matching message, in
    /// arrival order; `onClose` runs once if the connection closes while the match is installed.
    /// The match is active when this returns. Keep the handler short: it runs on the bus thread.
    public func addMatch(
        _ rule: String, handler: @escaping @Sendable (BusMessageReader) -> Void,
        onClose: @escaping @Sendable (SystemdError) -> Void
    ) async throws -> BusMatch {
        let loop = self.loop
        let id: UInt64 = try await withCheckedThrowingContinuation {
            (installed: CheckedContinuation<UInt64, any Error>) in
            let accepted = loop.submit { loop in
                installed.resume(
                    with: Result {
                        try loop.addMatch(
                            rule,
                            handler: { message in handler(BusMessageReader(message: message, member: "signal")) },
                            onClose: onClose)
                    })
            }
            if !accepted {
                installed.resume(throwing: SystemdError.disconnected(reason: "connection already closed"))
            }
        }
        return BusMatch(loop: loop, id: id)
    }
}

/// An installed match rule; ``cancel()`` removes it. Dropping it does not.
public struct BusMatch: Sendable {
    let loop: BusLoop
    let id: UInt64

    /// Removes the match (asynchronously, on the bus thread).
    public func cancel() {
        let id = self.id
        loop.submit { loop in loop.removeMatch(id) }
    }
}

/// Builds a D-Bus match rule string.
public struct MatchRule: Sendable, Hashable, CustomStringConvertible {
    public var sender: String?
    public var path: String?
    public var pathNamespace: String?
    public var interface: String?
    public var member: String?

    public init(
        sender: String? = nil, path: String? = nil, pathNamespace: String? = nil, interface: String? = nil,
        member: String? = nil
    ) {
        self.sender = sender
        self.path = path
        self.pathNamespace = pathNamespace
        self.interface = interface
        self.member = member
    }

    public var description: String {
        var parts = ["type='signal'"]
        if let sender { parts.append("sender='\(sender)'") }
        if let path { parts.append("path='\(path)'") }
        if let pathNamespace { parts.append("path_namespace='\(pathNamespace)'") }
        if let interface { parts.append("interface='\(interface)'") }
        if let member { parts.append("member='\(member)'") }
        return parts.joined(separator: ",")
    }
}
