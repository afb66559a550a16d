import NIOHTTP1

/// A request the API server refuses or cannot serve: the HTTP status and the message that goes into
/// fleet's error body `{"error":{"code":N,"message":"…"}}`.
///
/// Handlers throw it (typed), so every failure reaches the wire in one shape, and registry failures
/// are mapped in one place (``registry(_:)``) rather than per handler.
public struct APIServerError: Error, Hashable, Sendable, CustomStringConvertible {
    public var status: HTTPResponseStatus
    public var message: String

    public init(_ status: HTTPResponseStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "HTTP \(status.code): \(message)" }

    /// fleet's exact answer while the store is unreachable.
    public static let storeUnavailable = APIServerError(.serviceUnavailable, "fleet server unable to communicate with etcd")

    public static func badRequest(_ message: String) -> APIServerError { APIServerError(.badRequest, message) }
    public static func notFound(_ message: String) -> APIServerError { APIServerError(.notFound, message) }
    public static func conflict(_ message: String) -> APIServerError { APIServerError(.conflict, message) }
    public static func methodNotAllowed(_ message: String) -> APIServerError {
        APIServerError(.methodNotAllowed, message)
    }
    /// A forwarded status/journal request could not reach the machine that runs the unit.
    public static func badGateway(_ message: String) -> APIServerError { APIServerError(.badGateway, message) }

    /// fleet's answer for a missing unit (the name is in the URL, so the message does not repeat it).
    public static let unitNotFound = APIServerError(.notFound, "unit does not exist")

    /// Maps a registry failure: an unreachable store is 503 (nothing was decided), a missing unit 404,
    /// an invalid one 400, a create race 409; anything else is the server's fault (500) and says why,
    /// where fleet answered 500 with an empty message.
    public static func registry(_ error: RegistryError) -> APIServerError {
        if error.isUnavailable { return .storeUnavailable }
        switch error {
        case .unitNotFound: return .unitNotFound
        case .invalidUnit(_, let validation): return .badRequest(validation.description)
        case .unitExists: return .conflict(error.description)
        default: return APIServerError(.internalServerError, error.description)
        }
    }
}
