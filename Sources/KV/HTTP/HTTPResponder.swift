import NIOCore

/// Makes a response where it is written (see `HTTPResponder.respondLater`).
public typealias ResponseMaker = @Sendable () -> HTTPResponse

/// What an HTTP server serves. One responder serves every connection of a server.
public protocol HTTPResponder: Sendable {
    /// Answers at once on the event loop, without a task hop, when possible (fast paths such as
    /// reads from memory). Return nil to be answered by `respond(to:)`.
    func respondImmediately(to request: HTTPRequest) -> HTTPResponse?

    /// Answers a request; may wait (proposals through Raft, long-poll watches).
    func respond(to request: HTTPRequest) async -> HTTPResponse

    /// Takes a request that waits for something without an async task of its own: returns true
    /// and calls `reply` exactly once later, from any thread, with a closure that makes the
    /// response; false (the default) leaves the request to `respond(to:)`. Called on the
    /// connection's event loop after `respondImmediately`. Why: a task and a continuation per
    /// request showed as several percent of a PUT's CPU, for a wait that is a callback from the
    /// Raft loop anyway. The response is made on the connection's event loop, not by the thread
    /// that calls `reply` (the Raft loop, which every write waits for, should not encode JSON).
    func respondLater(to request: HTTPRequest, reply: @escaping @Sendable (@escaping ResponseMaker) -> Void) -> Bool

    /// The response for a request whose body exceeds the server's limit.
    func bodyTooLarge(_ request: HTTPRequest, limit: Int) -> HTTPResponse

    /// Takes over a request whose body is to be read as it arrives, given its head (the body
    /// is empty here); nil, the default, collects the body and answers with the methods above.
    /// Called on the connection's event loop.
    func streamRequest(_ request: HTTPRequest) -> HTTPRequestStream?
}

extension HTTPResponder {
    public func respondImmediately(to request: HTTPRequest) -> HTTPResponse? { nil }

    public func respondLater(to request: HTTPRequest, reply: @escaping @Sendable (@escaping ResponseMaker) -> Void) -> Bool {
        false
    }

    public func streamRequest(_ request: HTTPRequest) -> HTTPRequestStream? { nil }

    public func bodyTooLarge(_ request: HTTPRequest, limit: Int) -> HTTPResponse {
        HTTPResponse(status: .payloadTooLarge, contentType: "text/plain; charset=utf-8",
                     text: "request body larger than \(limit) bytes\n")
    }
}

/// A responder made of a closure, for tests and small servers.
public struct ClosureResponder: HTTPResponder {
    let body: @Sendable (HTTPRequest) async -> HTTPResponse

    public init(_ body: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) { self.body = body }

    public func respond(to request: HTTPRequest) async -> HTTPResponse { await body(request) }
}
