import Foundation
import KV
import NIOCore
import NIOConcurrencyHelpers
import NIOHTTP1
import Synchronization

/// `StoreClient` over the etcd v2 HTTP API: our KV members or a real etcd (3.4 with --enable-v2).
///
/// Requests go to the first endpoint that answers; a connection failure or a 5xx answer (the
/// member has no leader, is cut off or stopping) moves on to the next, and the one that answered
/// is tried first next time. When no endpoint can serve, the error is `.unavailable`, as the
/// in-process client reports a member's timeout.
public final class EtcdV2Client: StoreClient {
    public let endpoints: [HTTPEndpoint]
    private let client: HTTPClient
    let timeout: Double
    let watchWindow: Double
    private let preferred = NIOLockedIndex()
    /// What to do when an endpoint is found failing, per endpoint: the open watch streams on it close,
    /// so their subscriptions register again elsewhere at once rather than at their next idle check.
    private let failureActions = Mutex<[HTTPEndpoint: [ObjectIdentifier: @Sendable () -> Void]]>([:])

    /// `timeout` bounds each ordinary request. A watch waits as long as the store takes, but one
    /// long poll lasts at most `watchWindow`: then the client checks that an endpoint answers (moving
    /// to another if the one it watched went silent, e.g. partitioned away without a reset) and
    /// watches again from the same index. Without it a watch on a vanished member hangs for ever
    /// while its caller believes it is up to date.
    public init(endpoints: [HTTPEndpoint], timeout: Double = 5, client: HTTPClient = HTTPClient(), watchWindow: Double = 15) {
        precondition(!endpoints.isEmpty, "EtcdV2Client needs at least one endpoint")
        self.endpoints = endpoints
        self.timeout = timeout
        self.watchWindow = watchWindow
        self.client = client
    }

    /// Parses comma-separated URLs such as `http://10.0.0.1:2379,http://10.0.0.2:2379`. With
    /// `https://` URLs (all of them must be) the client speaks TLS, checking the servers against
    /// `tls.caFile` (else the system roots) and presenting `tls.certFile` when given; a TLS file that
    /// cannot be used throws ``TLSFilesError`` naming it.
    public convenience init(urls: String, timeout: Double = 5, tls: TLSFiles = TLSFiles()) throws {
        var parsed: [HTTPEndpoint] = []
        var schemes = Set<Bool>()
        for raw in urls.split(separator: ",") {
            let url = raw.trimmingCharacters(in: .whitespaces)
            guard let (endpoint, secure) = HTTPEndpoint.parse(url: url) else {
                throw StoreClientError.unavailable(["not a usable store URL: '\(url)'"])
            }
            parsed.append(endpoint)
            schemes.insert(secure)
        }
        guard !parsed.isEmpty else { throw StoreClientError.unavailable(["no store URL given"]) }
        guard schemes.count == 1 else {
            throw StoreClientError.unavailable(["store URLs mix http:// and https://: '\(urls)'; use one scheme"])
        }
        let client = schemes.contains(true) ? HTTPClient(tls: try tls.clientContext()) : HTTPClient()
        self.init(endpoints: parsed, timeout: timeout, client: client)
    }

    public func get(_ key: String, recursive: Bool, quorum: Bool) async throws -> (node: StoreNode?, index: UInt64) {
        var query: [(String, String)] = []
        if recursive { query.append(("recursive", "true")); query.append(("sorted", "true")) }
        if quorum { query.append(("quorum", "true")) }
        let (body, index) = try await request(.GET, key, query: query, missingIsNil: true)
        guard let body else { return (nil, index) }
        return (try decode(StoreWatchEvent.self, body).node, index)
    }

    @discardableResult
    public func set(_ key: String, value: String, ttl: Int?, condition: StoreCondition) async throws -> StoreNode {
        var form: [(String, String)] = [("value", value)]
        if let ttl { form.append(("ttl", String(ttl))) }
        form += conditionParameters(condition)
        let (body, _) = try await request(.PUT, key, form: form)
        return try decode(StoreWatchEvent.self, body).node
    }

    @discardableResult
    public func makeDirectory(_ key: String, ttl: Int?) async throws -> StoreNode {
        var form: [(String, String)] = [("dir", "true"), ("prevExist", "false")]
        if let ttl { form.append(("ttl", String(ttl))) }
        let (body, _) = try await request(.PUT, key, form: form)
        return try decode(StoreWatchEvent.self, body).node
    }

    @discardableResult
    public func refresh(_ key: String, ttl: Int, condition: StoreCondition) async throws -> StoreNode {
        var form: [(String, String)] = [("ttl", String(ttl)), ("refresh", "true")]
        form += condition == .none ? [("prevExist", "true")] : conditionParameters(condition)
        let (body, _) = try await request(.PUT, key, form: form)
        return try decode(StoreWatchEvent.self, body).node
    }

    @discardableResult
    public func delete(_ key: String, recursive: Bool, condition: StoreCondition) async throws -> StoreNode? {
        var query: [(String, String)] = []
        if recursive { query.append(("recursive", "true")) }
        query += conditionParameters(condition).filter { $0.0 != "prevExist" }
        let (body, _) = try await request(.DELETE, key, query: query)
        return try decode(StoreWatchEvent.self, body).prevNode
    }

    public func waitForChange(_ key: String, recursive: Bool, fromIndex index: UInt64) async throws -> StoreWatchEvent {
        var query: [(String, String)] = [("wait", "true"), ("waitIndex", String(index))]
        if recursive { query.append(("recursive", "true")) }
        while true {
            let body: ByteBuffer?
            do {
                (body, _) = try await request(.GET, key, query: query, timeout: watchWindow, missingIsNil: false, longPoll: true)
            } catch StoreClientError.unavailable {
                // Quiet for a whole window, or the endpoint is gone. A member that is not healthy
                // (cut off from its peers, it still answers from a store that no longer changes) is
                // left for the next endpoint; then a short read (which moves on to an endpoint that
                // answers, or throws if none does), and watch again.
                let watched = preferred.value
                if await !answers(endpoints[watched]) { preferred.advance(from: watched, count: endpoints.count) }
                _ = try await request(.GET, "/", missingIsNil: true)
                continue
            }
            // A watch the server closes early answers 200 with an empty body: ask again.
            guard let body, body.readableBytes > 0 else { continue }
            return try decode(StoreWatchEvent.self, body)
        }
    }

    /// A continuous watch over one `stream=true` request (``EtcdV2StreamSubscription``) instead of
    /// one long poll per event: a consumer following a busy subtree (the agent's `job/` feed) no
    /// longer pays a round trip per event nor falls behind the store's 1,000-event history.
    public func subscribe(_ key: String, recursive: Bool, fromIndex index: UInt64) throws -> any StoreWatchSubscription {
        EtcdV2StreamSubscription(client: self, key: key, recursive: recursive, fromIndex: index)
    }

    /// Registers a `stream=true` watch of `key` from the next write on, trying endpoints in turn
    /// (`avoiding`, an endpoint just found unhealthy, last). Returns the open stream, the endpoint
    /// serving it and the store index at registration (`X-Etcd-Index`): every later matching event
    /// arrives on the stream.
    func openWatchStream(_ key: String, recursive: Bool, avoiding: HTTPEndpoint? = nil)
        async throws -> (HTTPClientStream, HTTPEndpoint, UInt64)
    {
        var query: [(String, String)] = [("wait", "true"), ("stream", "true")]
        if recursive { query.append(("recursive", "true")) }
        let uri = keysURI(key, query)
        var failures: [String] = []
        let start = preferred.value
        var order = (0..<endpoints.count).map { (start + $0) % endpoints.count }
        if let avoiding, let at = order.firstIndex(where: { endpoints[$0] == avoiding }) {
            order.append(order.remove(at: at))
        }
        for i in order {
            let endpoint = endpoints[i]
            let stream: HTTPClientStream
            do {
                stream = try await client.openStream(.GET, endpoint, uri, connectTimeout: timeout, idleTick: watchWindow,
                                                 headTimeout: timeout)
            } catch {
                failures.append(String(describing: error))
                reportFailure(endpoint)
                continue
            }
            preferred.value = i
            let index = stream.head.headers.first(name: "X-Etcd-Index").flatMap { UInt64($0) } ?? 0
            if stream.head.status.code < 300 { return (stream, endpoint, index) }
            // An error answer (e.g. 401 history cleared) is an ordinary body: collect it.
            var body = ByteBuffer()
            do {
                for try await var chunk in stream.body { body.writeBuffer(&chunk) }
            } catch {}
            stream.close()
            throw storeError(status: stream.head.status, body: body, key: key, index: index)
        }
        throw StoreClientError.unavailable(failures)
    }

    /// Whether `endpoint` is a healthy member: `GET /health` answers 200, which both our members and
    /// etcd do only while they have a leader (ours after a quorum read). A member partitioned from its
    /// peers still answers other reads, from a store that no longer changes: a watch on it would
    /// wait for ever. An endpoint found unhealthy is reported (``reportFailure(_:)``).
    func answers(_ endpoint: HTTPEndpoint) async -> Bool {
        let response = try? await client.execute(.GET, endpoint, "/health", timeout: timeout)
        guard let response, response.status.code < 300 else {
            reportFailure(endpoint)
            return false
        }
        return true
    }

    /// Runs `action` (once) when a request finds `endpoint` failing: no answer within the timeout,
    /// connection refused or reset, or an unhealthy ``answers(_:)``. Replaces the action registered
    /// under `id` before.
    func onFailure(of endpoint: HTTPEndpoint, id: ObjectIdentifier, _ action: @escaping @Sendable () -> Void) {
        failureActions.withLock { actions in
            for key in actions.keys { actions[key]?[id] = nil }
            actions[endpoint, default: [:]][id] = action
        }
    }

    /// Forgets the action registered under `id`.
    func forgetFailureAction(id: ObjectIdentifier) {
        failureActions.withLock { actions in
            for key in actions.keys { actions[key]?[id] = nil }
        }
    }

    /// Runs (and forgets) every action waiting for `endpoint` to fail.
    func reportFailure(_ endpoint: HTTPEndpoint) {
        guard let due = failureActions.withLock({ $0.removeValue(forKey: endpoint) }) else { return }
        for action in due.values { action() }
    }

    // MARK: - HTTP

    private func conditionParameters(_ condition: StoreCondition) -> [(String, String)] {
        switch condition {
        case .none: return []
        case .mustExist: return [("prevExist", "true")]
        case .mustNotExist: return [("prevExist", "false")]
        case .prevIndex(let i): return [("prevIndex", String(i))]
        case .prevValue(let v): return [("prevValue", v)]
        }
    }

    private func encode(_ items: [(String, String)]) -> String {
        items.map { "\(URLEncoding.percentEncode($0.0))=\(URLEncoding.percentEncode($0.1))" }.joined(separator: "&")
    }

    func keysURI(_ key: String, _ query: [(String, String)]) -> String {
        var uri = "/v2/keys" + (key.hasPrefix("/") ? "" : "/") + URLEncoding.percentEncodePath(key)
        if !query.isEmpty { uri += "?" + encode(query) }
        return uri
    }

    /// Sends a keys request, trying endpoints in turn; returns the body and X-Etcd-Index.
    private func request(_ method: HTTPMethod, _ key: String, query: [(String, String)] = [],
                         form: [(String, String)]? = nil, timeout: Double? = nil) async throws -> (ByteBuffer, UInt64) {
        let (body, index) = try await request(method, key, query: query, form: form, timeout: timeout, missingIsNil: false)
        return (body!, index)
    }

    /// As `request`, but with `missingIsNil` a "key not found" answer is a nil body (with the index).
    /// A `longPoll` (a one-shot watch) goes to one endpoint only, and its timeout means the store was
    /// quiet, not that the endpoint failed.
    private func request(_ method: HTTPMethod, _ key: String, query: [(String, String)] = [],
                         form: [(String, String)]? = nil, timeout: Double? = nil,
                         missingIsNil: Bool, longPoll: Bool = false) async throws -> (ByteBuffer?, UInt64) {
        let uri = keysURI(key, query)
        var headers = HTTPHeaders()
        var body: ByteBuffer?
        if let form {
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            body = ByteBuffer(string: encode(form))
        }
        var failures: [String] = []
        let start = preferred.value
        for attempt in 0..<(longPoll ? 1 : endpoints.count) {
            let i = (start + attempt) % endpoints.count
            let endpoint = endpoints[i]
            let response: HTTPClientResponse
            do {
                response = try await client.execute(method, endpoint, uri, headers: headers, body: body,
                                                    timeout: timeout ?? self.timeout)
            } catch {
                failures.append(String(describing: error))
                // A long poll that times out only found the store quiet.
                if !longPoll { reportFailure(endpoint) }
                continue
            }
            let index = response.headers.first(name: "X-Etcd-Index").flatMap { UInt64($0) } ?? 0
            let error = response.status.code < 300
                ? nil : storeError(status: response.status, body: response.body, key: key, index: index)
            if !longPoll, let error, Self.memberCannotServe(response.status, error) {
                // As etcd's own v2 client does: a 5xx means this member cannot serve the request now
                // (no leader, cut off from its peers, stopping), so the next member is asked. Such a
                // member answers "request timed out" at once when it loses its leader, so without this
                // a client would keep asking the one member that cannot answer.
                failures.append("\(endpoint): \(error)")
                reportFailure(endpoint)
                preferred.advance(from: i, count: endpoints.count)
                continue
            }
            preferred.value = i
            guard let error else { return (response.body, index) }
            if missingIsNil, case .keyNotFound = error { return (nil, index) }
            throw error
        }
        throw StoreClientError.unavailable(failures)
    }

    /// Whether an error answer is the member's state rather than the request's: any 5xx but etcd's
    /// "request is too large", which every member gives alike.
    static func memberCannotServe(_ status: HTTPResponseStatus, _ error: StoreClientError) -> Bool {
        guard status.code >= 500 else { return false }
        if case .server(300, _, let cause) = error, cause.contains("request is too large") { return false }
        return true
    }

    private struct ErrorBody: Decodable {
        var errorCode: Int
        var message: String
        var cause: String?
        var index: UInt64?
    }

    func storeError(status: HTTPResponseStatus, body: ByteBuffer, key: String, index: UInt64) -> StoreClientError {
        guard let e = try? JSONDecoder().decode(ErrorBody.self, from: Data(body.readableBytesView)) else {
            return .malformedResponse("HTTP \(status.code): \(String(decoding: body.readableBytesView, as: UTF8.self).prefix(200))")
        }
        let cause = e.cause ?? ""
        switch e.errorCode {
        case 100: return .keyNotFound(cause.isEmpty ? key : cause)
        case 101: return .compareFailed(key: key, cause: cause)
        case 102: return .notAFile(cause.isEmpty ? key : cause)
        case 104: return .notADirectory(cause.isEmpty ? key : cause)
        case 105: return .keyExists(cause.isEmpty ? key : cause)
        case 108: return .directoryNotEmpty(cause.isEmpty ? key : cause)
        case 401: return .historyCleared(currentIndex: e.index ?? index)
        default: return .server(code: e.errorCode, message: e.message, cause: cause)
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw StoreClientError.malformedResponse("\(error): \(String(decoding: body.readableBytesView, as: UTF8.self).prefix(200))")
        }
    }
}

/// The endpoint index that answered last, shared by concurrent requests.
final class NIOLockedIndex: Sendable {
    private let box = NIOLockedValueBox(0)
    var value: Int {
        get { box.withLockedValue { $0 } }
        set { box.withLockedValue { $0 = newValue } }
    }

    /// Moves on to the endpoint after `index`, unless another request moved it already.
    func advance(from index: Int, count: Int) {
        box.withLockedValue { if $0 == index { $0 = (index + 1) % count } }
    }
}
