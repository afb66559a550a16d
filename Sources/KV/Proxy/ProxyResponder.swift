import NIOCore
import NIOHTTP1

/// etcd's v2 proxy handler: every client request (keys, members, machines, stats, `/version`,
/// `/health`) is forwarded unchanged to one of the members' client URLs. A member that cannot be
/// reached is marked failed and the next one is tried; watches (`wait=true`) are relayed as they
/// stream, so long polls and `stream=true` work through the proxy.
///
/// Status codes and messages are etcd's: `readonly` answers every non-GET with an empty 501,
/// no usable member gives 503 `httpproxy: zero endpoints currently available`, and members that all
/// fail give 502 `httpproxy: unable to get response from N endpoint(s)`.
struct ProxyResponder: HTTPResponder {
    let endpoints: ProxyEndpoints
    let client: HTTPClient
    let readonly: Bool
    /// Bound for connecting to a member (etcd's `--proxy-dial-timeout`).
    let dialTimeout: Double
    /// Bound for a whole non-watch exchange (etcd's `--proxy-read-timeout`, or a generous default).
    let requestTimeout: Double

    /// Headers that belong to one connection, not to the request or response they travel with.
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                                        "trailer", "trailers", "transfer-encoding", "upgrade", "content-length", "host"]

    func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        if readonly, request.method != .GET { return HTTPResponse(status: .notImplemented) }
        return nil
    }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        if let now = respondImmediately(to: request) { return now }
        let candidates = endpoints.available()
        guard !candidates.isEmpty else {
            return Self.message(.serviceUnavailable, "httpproxy: zero endpoints currently available")
        }
        let headers = Self.forwarded(request.headers)
        let body = request.body.readableBytes > 0 ? request.body : nil
        for candidate in candidates where !Task.isCancelled {
            do {
                if Self.isWatch(request) {
                    let (head, stream) = try await client.stream(request.method, candidate.endpoint, request.uri,
                                                                 headers: headers, body: body, connectTimeout: dialTimeout)
                    return HTTPResponse(status: head.status, headers: Self.forwarded(head.headers), body: .stream { writer in
                        for try await chunk in stream { try await writer.write(chunk) }
                    })
                }
                let r = try await client.execute(request.method, candidate.endpoint, request.uri,
                                                 headers: headers, body: body, timeout: requestTimeout)
                return HTTPResponse(status: r.status, headers: Self.forwarded(r.headers), body: .bytes(r.body))
            } catch {
                endpoints.markFailed(candidate.url)
            }
        }
        return Self.message(.badGateway, "httpproxy: unable to get response from \(candidates.count) endpoint(s)")
    }

    func bodyTooLarge(_ request: HTTPRequest, limit: Int) -> HTTPResponse {
        Self.message(.payloadTooLarge, "httpproxy: request body larger than \(limit) bytes")
    }

    /// A long-poll or streaming watch: its response arrives over time and must be relayed as it comes.
    static func isWatch(_ request: HTTPRequest) -> Bool {
        guard request.method == .GET, let items = try? request.queryItems() else { return false }
        return items.first(where: { $0.name == "wait" }).flatMap { KVFlag.parseBool($0.value) } ?? false
    }

    static func forwarded(_ headers: HTTPHeaders) -> HTTPHeaders {
        var out = HTTPHeaders()
        for (name, value) in headers where !hopByHop.contains(name.lowercased()) { out.add(name: name, value: value) }
        return out
    }

    /// etcd's `httptypes.HTTPError` body: `{"message":"…"}`.
    static func message(_ status: HTTPResponseStatus, _ text: String) -> HTTPResponse {
        var json = #"{"message":"#
        V2JSON.appendString(text, to: &json)
        return HTTPResponse(status: status, contentType: "application/json", text: json + "}")
    }
}
