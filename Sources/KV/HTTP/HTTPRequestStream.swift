import NIOCore

/// How a server takes a request whose body is read as it arrives instead of collected first:
/// a body that never ends on purpose, such as the peer transport's stream of Raft frames.
///
/// A responder offers it from ``HTTPResponder/streamRequest(_:)`` when it sees the request's
/// head; everything else about the connection (keep-alive, the answer's encoding) stays the
/// server's.
public enum HTTPRequestStream {
    /// Answers at once, ignores the body and closes the connection (a refused sender).
    case refuse(HTTPResponse)
    /// Hands every part of the body to the consumer, on the connection's event loop, as it arrives.
    case accept(any HTTPRequestBodyConsumer)
}

/// Takes the body of a streamed request part by part (see ``HTTPRequestStream``). Called only on
/// the connection's event loop, one part at a time.
public protocol HTTPRequestBodyConsumer: AnyObject {
    /// A part of the body, as the socket delivered it (not aligned to anything the sender wrote).
    /// A response refuses the rest: it is sent and the connection closes.
    func consume(_ part: ByteBuffer) -> HTTPResponse?

    /// The body has ended: the answer.
    func end() -> HTTPResponse
}
