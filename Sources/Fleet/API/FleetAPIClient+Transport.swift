import Foundation
import KV
import NIOCore
import NIOHTTP1

/// One endpoint as given by the user and as the HTTP client dials it.
struct APIEndpoint: Sendable, Hashable {
    var url: String
    var endpoint: HTTPEndpoint
    /// An `https://` endpoint, dialled by the client's TLS HTTP client.
    var tls: Bool

    /// Parses `unix:///path`, `http://host:port` or `https://host:port`.
    init(_ url: String) throws(FleetAPIError) {
        let lower = url.lowercased()
        guard lower.hasPrefix("unix:") || lower.hasPrefix("http://") || lower.hasPrefix("https://"),
              let (endpoint, tls) = HTTPEndpoint.parse(url: url)
        else {
            throw .invalidEndpoint(url)
        }
        self.url = url
        self.endpoint = endpoint
        self.tls = tls
    }
}

/// Sending requests: failover across endpoints, the request timeout, and mapping answers to
/// ``FleetAPIError``.
extension FleetAPIClient {
    /// Sends one request to the first endpoint that accepts a connection. Only a failure to connect
    /// moves on to the next endpoint; a request that reached a server is never sent twice.
    func send(_ method: HTTPMethod, _ uri: String, json body: String? = nil) async throws(FleetAPIError)
        -> (response: HTTPClientResponse, endpoint: String)
    {
        var headers = HTTPHeaders()
        var buffer: ByteBuffer?
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            buffer = ByteBuffer(string: body)
        }
        let (response, endpoint) = try await firstReachable { target in
            try await client(for: target).execute(
                method, target.endpoint, uri, headers: headers, body: buffer, timeout: requestTimeout)
        }
        return (response, endpoint)
    }

    /// The HTTP client that dials `target`: the TLS one for https endpoints.
    func client(for target: APIEndpoint) -> HTTPClient {
        target.tls ? (https ?? http) : http
    }

    /// Runs `attempt` against each endpoint in turn until one accepts a connection; a timeout or any
    /// other failure after connecting ends the call (the request may have been applied).
    func firstReachable<T: Sendable>(_ attempt: (APIEndpoint) async throws -> T) async throws(FleetAPIError)
        -> (T, String)
    {
        var refused: [String] = []
        for target in endpoints {
            do {
                return (try await attempt(target), target.url)
            } catch HTTPClientError.connectFailed(_, let reason) {
                refused.append(endpoints.count == 1 ? reason : "\(target.url): \(reason)")
            } catch HTTPClientError.tlsFailed(_, let reason) {
                // The handshake comes before any request byte: safe to try the next endpoint.
                let why = "TLS handshake failed: \(reason)"
                refused.append(endpoints.count == 1 ? why : "\(target.url): \(why)")
            } catch HTTPClientError.timedOut {
                throw .timedOut(endpoint: target.url, seconds: requestTimeout)
            } catch is DeadlineExceeded {
                throw .timedOut(endpoint: target.url, seconds: requestTimeout)
            } catch {
                throw .unreachable(endpoint: target.url, reason: "\(error)")
            }
        }
        throw .unreachable(endpoint: endpoints.map(\.url).joined(separator: ", "), reason: refused.joined(separator: "; "))
    }

    /// Sends a request and checks the status: 2xx passes; 404 becomes `.notFound(notFound)` when the
    /// server says the unit does not exist; other errors carry the server's message.
    func call(_ method: HTTPMethod, _ uri: String, json body: String? = nil, notFound: String)
        async throws(FleetAPIError) -> (response: HTTPClientResponse, endpoint: String)
    {
        let answer = try await send(method, uri, json: body)
        try Self.check(status: answer.response.status, body: answer.response.body, notFound: notFound)
        return answer
    }

    static func check(status: HTTPResponseStatus, body: ByteBuffer, notFound: String) throws(FleetAPIError) {
        let code = Int(status.code)
        guard !(200..<300).contains(code) else { return }
        let message = errorMessage(body)
        if code == 404 {
            throw .notFound(message.isEmpty || message == "unit does not exist" ? notFound : message)
        }
        throw .server(status: code, message: message)
    }

    /// The message of fleet's error JSON, or the body text when it is not that JSON.
    static func errorMessage(_ body: ByteBuffer) -> String {
        if let decoded = try? APIJSON.decode(APIErrorBody.self, from: body) { return decoded.error.message }
        return String(decoding: body.readableBytesView, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func decode<T: Decodable>(_ type: T.Type, _ answer: (response: HTTPClientResponse, endpoint: String))
        throws(FleetAPIError) -> T
    {
        do { return try APIJSON.decode(type, from: answer.response.body) } catch {
            throw .badResponse(endpoint: answer.endpoint, reason: "cannot decode \(T.self): \(error)")
        }
    }

    /// `/fleet/v1/<path>` with an escaped unit name and a query built from the non-nil parameters.
    static func uri(_ path: String, _ query: [(String, String?)] = []) -> String {
        let items = query.compactMap { name, value in value.map { "\(name)=\(URLEncoding.percentEncode($0))" } }
        return "/fleet/v1/" + path + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
    }

    static func unitPath(_ name: String, _ rest: String = "") -> String {
        "units/" + URLEncoding.percentEncode(name) + rest
    }
}
