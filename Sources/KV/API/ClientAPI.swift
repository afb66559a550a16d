#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1

/// etcd's v2 client API: `/v2/keys`, `/v2/members`, `/v2/machines`, `/v2/stats/*`, `/version`,
/// `/health`, `/metrics`, exactly as etcd 3.4 answers them (paths, JSON, headers, error codes).
///
/// Local GETs are answered on the event loop; writes, quorum reads and watches take a task.
public struct ClientAPI: HTTPResponder {
    public let backend: any KVBackend
    public let maxValueSize: Int
    /// Extra `/metrics` text (the member's counters); the API adds its own store figures.
    public let metrics: @Sendable () -> String
    /// The header lines every keys answer starts with, encoded once (see `keysHeaders`).
    private let keysHeaderBlock: ByteBuffer

    public static let serverVersion = "3.4.23"
    public static let clusterVersion = "3.4.0"

    public init(backend: any KVBackend, maxValueSize: Int = KeysRequestParser.defaultMaxValueSize,
                metrics: @escaping @Sendable () -> String = { "" }) {
        self.backend = backend
        self.maxValueSize = maxValueSize
        self.metrics = metrics
        self.keysHeaderBlock = Self.encodeKeysHeaderBlock(clusterID: backend.clusterID)
    }

    // MARK: - Routing

    /// A peer stream sent to a client URL (a member configured with a client URL as a peer URL)
    /// is refused at its head with a message saying so: collected as an ordinary body it would never
    /// end, and the sending member would wait on it silently.
    public func streamRequest(_ request: HTTPRequest) -> HTTPRequestStream? {
        guard request.rawPath.hasPrefix("/raft/") else { return nil }
        return .refuse(HTTPResponse(status: .notFound, contentType: "text/plain; charset=utf-8",
                                    text: "404 page not found: \(request.rawPath) is served on peer URLs; this is a client URL\n"))
    }

    public func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        let path = request.rawPath
        if path == "/v2/keys" || path.hasPrefix("/v2/keys/") {
            if request.method == .GET || request.method == .HEAD {
                return keysImmediate(request)
            }
            return nil
        }
        switch (request.method, path) {
        case (.GET, "/version"):
            return json(.ok, #"{"etcdserver":"\#(Self.serverVersion)","etcdcluster":"\#(Self.clusterVersion)"}"#)
        case (.GET, "/v2/machines"):
            let urls = backend.members().flatMap(\.clientURLs).joined(separator: ", ")
            return HTTPResponse(status: .ok, contentType: "text/plain; charset=utf-8", text: urls)
        case (.GET, "/v2/members"):
            return membersList()
        case (.GET, "/v2/members/leader"):
            guard let leader = backend.leaderID, let m = backend.members().first(where: { $0.id == leader }) else {
                return message(.serviceUnavailable, "During election")
            }
            return json(.ok, Self.memberJSON(m))
        case (.GET, "/v2/stats/self"):
            return json(.ok, backend.selfStatsJSON())
        case (.GET, "/v2/stats/leader"):
            guard let body = backend.leaderStatsJSON() else { return message(.forbidden, "not current leader") }
            return json(.ok, body)
        case (.GET, "/v2/stats/store"):
            return json(.ok, backend.store.stats.json)
        case (.GET, "/metrics"):
            return HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4", text: metricsText())
        case (.GET, "/debug/store-hash"):
            // Not etcd's: lets a fault run compare members' stores at the same applied index.
            let (index, hash) = backend.store.indexedHash()
            return json(.ok, #"{"index":\#(index),"hash":"\#(String(hash, radix: 16))"}"#)
        default:
            return nil
        }
    }

    /// Writes to `/v2/keys` (set, create, CAS, delete...) wait for their entry to apply without
    /// a task: the member calls back from its Raft loop (`KVBackend.propose(_:completion:)`).
    public func respondLater(to request: HTTPRequest, reply: @escaping @Sendable (@escaping ResponseMaker) -> Void) -> Bool {
        let path = request.rawPath
        guard request.method != .GET && request.method != .HEAD,
              path == "/v2/keys" || path.hasPrefix("/v2/keys/") else { return false }
        let parsed: ParsedKeysRequest
        switch parseKeys(request) {
        case .failure(let box):
            reply { box.response }
            return true
        case .success(let p): parsed = p
        }
        // Quorum reads (`.get` through a ReadIndex barrier) keep the task path of `keys`.
        guard case .propose(let operation) = parsed.request else { return false }
        if case .get = operation { return false }
        let noValueOnSuccess = parsed.noValueOnSuccess
        backend.propose(operation) { result in
            reply { writeResponse(result, noValueOnSuccess: noValueOnSuccess) }
        }
        return true
    }

    /// The answer to a write, from what proposing it gave.
    private func writeResponse(_ result: Result<StoreOutcome, KVBackendError>, noValueOnSuccess: Bool) -> HTTPResponse {
        switch result {
        case .success(let outcome):
            guard let stored = outcome.result else {
                return keysResponse(KeysResponse(.failure(StoreError(.raftInternal, cause: "unexpected outcome"))))
            }
            return keysResponse(KeysResponse(stored, noValueOnSuccess: noValueOnSuccess))
        case .failure(let error):
            return keysResponse(KeysResponse(.failure(StoreError(.raftInternal, cause: error.description))))
        }
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let path = request.rawPath
        // `keys` answers local reads itself: the server tried `respondImmediately` already.
        if path == "/v2/keys" || path.hasPrefix("/v2/keys/") { return await keys(request) }
        if let now = respondImmediately(to: request) { return now }
        if path == "/health" {
            guard request.method == .GET else { return methodNotAllowed("GET") }
            return await health()
        }
        if path == "/v2/members" || path.hasPrefix("/v2/members/") { return await membersWrite(request) }
        if ["/version", "/v2/machines", "/v2/stats/self", "/v2/stats/leader", "/v2/stats/store", "/metrics",
            "/debug/store-hash"].contains(path) {
            return methodNotAllowed("GET")
        }
        return HTTPResponse(status: .notFound, contentType: "text/plain; charset=utf-8", text: "404 page not found\n")
    }

    public func bodyTooLarge(_ request: HTTPRequest, limit: Int) -> HTTPResponse {
        let error = StoreError(.raftInternal, cause: "etcdserver: request is too large")
        return keysResponse(KeysResponse(.failure(error)))
    }

    // MARK: - Keys

    /// Decodes the key part of a `/v2/keys` path, or answers the request itself (301 for `//`, 405).
    private func keyPath(_ request: HTTPRequest) -> Result<String, HTTPResponseBox> {
        let raw = request.rawPath
        if Self.hasDoubleSlash(raw) {
            var cleaned = KeyPath.canonical(raw)
            if raw.hasSuffix("/") && cleaned != "/" { cleaned += "/" }
            var headers = HTTPHeaders()
            headers.add(name: "Location", value: cleaned)
            return .failure(HTTPResponseBox(HTTPResponse(status: .movedPermanently, headers: headers)))
        }
        guard KeysRequestParser.allowedMethods.contains(request.method.rawValue) else {
            return .failure(HTTPResponseBox(methodNotAllowed("HEAD,GET,PUT,POST,DELETE")))
        }
        let encoded = raw.dropFirst("/v2/keys".count)
        guard let key = URLEncoding.percentDecode(encoded, plusAsSpace: false) else {
            let error = StoreError(.invalidForm, cause: "invalid URL escape in path")
            return .failure(HTTPResponseBox(keysResponse(KeysResponse(.failure(error)))))
        }
        return .success(key)
    }

    private func parse(_ request: HTTPRequest, key: String) -> Result<ParsedKeysRequest, StoreError> {
        var body: String?
        if (request.method == .PUT || request.method == .POST),
           request.headers.first(name: "content-type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false {
            body = String(decoding: request.body.readableBytesView, as: UTF8.self)
        }
        return KeysRequestParser.parse(method: request.method.rawValue, key: key, query: String(request.rawQuery),
                                       body: body, maxValueSize: maxValueSize)
    }

    private static func hasDoubleSlash(_ s: Substring) -> Bool {
        var previous: UInt8 = 0
        for b in s.utf8 {
            if b == UInt8(ascii: "/") && previous == b { return true }
            previous = b
        }
        return false
    }

    /// Local reads and watch registrations, on the event loop; nil for proposals and quorum reads.
    private func keysImmediate(_ request: HTTPRequest) -> HTTPResponse? {
        switch parseKeys(request) {
        case .failure(let box): return box.response
        case .success(let parsed): return local(parsed, request)
        }
    }

    /// The key path and parameters of a `/v2/keys` request, or the answer to a malformed one.
    private func parseKeys(_ request: HTTPRequest) -> Result<ParsedKeysRequest, HTTPResponseBox> {
        let key: String
        switch keyPath(request) {
        case .success(let k): key = k
        case .failure(let box): return .failure(box)
        }
        return parse(request, key: key).mapError { e in
            HTTPResponseBox(keysResponse(KeysResponse(.failure(e)), head: request.method == .HEAD))
        }
    }

    /// The answer to a request this member can give alone (a local read, a watch); nil for the
    /// ones that go through Raft.
    private func local(_ parsed: ParsedKeysRequest, _ request: HTTPRequest) -> HTTPResponse? {
        switch parsed.request {
        case .get(let k, let recursive, let sorted):
            let result = backend.store.get(k, recursive: recursive, sorted: sorted, now: WallClock.nanoseconds())
            return keysResponse(KeysResponse(result), head: request.method == .HEAD)
        case .watch(let k, let recursive, let stream, let waitIndex):
            return watch(k, recursive: recursive, stream: stream, waitIndex: waitIndex)
        case .propose:
            return nil
        }
    }

    private func keys(_ request: HTTPRequest) async -> HTTPResponse {
        let parsed: ParsedKeysRequest
        switch parseKeys(request) {
        case .failure(let box): return box.response
        case .success(let p): parsed = p
        }
        if let answer = local(parsed, request) { return answer }
        guard case .propose(let operation) = parsed.request else {
            return keysResponse(KeysResponse(.failure(StoreError(.raftInternal, cause: "unexpected request"))))
        }
        guard case .get(let k, let recursive, let sorted) = operation else {
            // Writes that did not come through `respondLater` (a caller of `respond(to:)` directly).
            let result: Result<StoreOutcome, KVBackendError>
            do throws(KVBackendError) { result = .success(try await backend.propose(operation)) } catch { result = .failure(error) }
            return writeResponse(result, noValueOnSuccess: parsed.noValueOnSuccess)
        }
        // quorum=true: a ReadIndex barrier, then a local read (no log entry needed).
        do throws(KVBackendError) { try await backend.readBarrier() } catch {
            return keysResponse(KeysResponse(.failure(StoreError(.raftInternal, cause: error.description))))
        }
        let result = backend.store.get(k, recursive: recursive, sorted: sorted, now: WallClock.nanoseconds())
        return keysResponse(KeysResponse(result))
    }

    private func watch(_ key: String, recursive: Bool, stream: Bool, waitIndex: UInt64) -> HTTPResponse {
        let watcher: Watcher
        do {
            watcher = try backend.store.watch(key, recursive: recursive, stream: stream, waitIndex: waitIndex)
        } catch {
            return keysResponse(KeysResponse(.failure(error)))
        }
        var response = HTTPResponse(status: .ok, body: .stream { writer in
            defer { watcher.cancel() }
            // End the watch as soon as the client goes away, even while no event comes.
            writer.clientClosed.whenComplete { _ in watcher.cancel() }
            for await event in watcher.events {
                guard stream else {
                    writer.writeLast(V2JSON.encode(event))
                    return
                }
                try await writer.write(V2JSON.encode(event))
            }
        })
        response.encodedHeaders = keysHeaders(etcdIndex: watcher.startIndex, raft: backend.raftPosition)
        return response
    }

    private func keysResponse(_ r: KeysResponse, head: Bool = false) -> HTTPResponse {
        let status = HTTPResponseStatus(statusCode: r.status)
        var response = head ? HTTPResponse(status: status)
                            : HTTPResponse(status: status, body: .bytes(ByteBuffer(string: r.body)))
        response.encodedHeaders = keysHeaders(etcdIndex: r.etcdIndex, raft: r.isError ? nil : backend.raftPosition)
        return response
    }

    /// The header lines of a keys answer, in etcd's set: the fixed ones (CORS, content type,
    /// cluster ID), `X-Etcd-Index`, and on success `X-Raft-Index` and `X-Raft-Term`.
    ///
    /// Why encoded rather than `HTTPHeaders`: building and serializing eight name/value pairs per
    /// answer (an array copy, a hex formatting of the cluster ID, eight header scans) showed in
    /// a GET's CPU; the fixed lines are one copy of a block made at start.
    private func keysHeaders(etcdIndex: UInt64, raft: (index: UInt64, term: UInt64)?) -> ByteBuffer {
        var block = keysHeaderBlock  // its spare room takes the lines below without growing
        block.writeStaticString("X-Etcd-Index: ")
        block.writeString(String(etcdIndex))
        if let raft {
            block.writeStaticString("\r\nX-Raft-Index: ")
            block.writeString(String(raft.index))
            block.writeStaticString("\r\nX-Raft-Term: ")
            block.writeString(String(raft.term))
        }
        block.writeStaticString("\r\n")
        return block
    }

    private static func encodeKeysHeaderBlock(clusterID: UInt64) -> ByteBuffer {
        var block = ByteBuffer()
        block.reserveCapacity(384)
        block.writeStaticString("""
            Access-Control-Allow-Headers: accept, content-type, authorization\r
            Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r
            Access-Control-Allow-Origin: *\r
            Content-Type: application/json\r

            """)
        block.writeString("X-Etcd-Cluster-Id: \(MemberInfo.hex(clusterID))\r\n")
        return block
    }

    // MARK: - Health, members

    private func health() async -> HTTPResponse {
        var healthy = backend.leaderID != nil
        if healthy {
            healthy = await withTaskGroup(of: Bool.self) { group in
                group.addTask { (try? await backend.readBarrier()) != nil }
                group.addTask {
                    try? await Task.sleep(for: .seconds(1))
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        }
        return HTTPResponse(status: healthy ? .ok : .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                            text: healthy ? #"{"health":"true"}"# : #"{"health":"false"}"#)
    }

    private func membersList() -> HTTPResponse {
        let members = backend.members().sorted { $0.id < $1.id }
        var headers = HTTPHeaders()
        headers.add(name: "X-Etcd-Cluster-Id", value: MemberInfo.hex(backend.clusterID))
        return json(.ok, #"{"members":["# + members.map(Self.memberJSON).joined(separator: ",") + "]}", headers: headers)
    }

    private func membersWrite(_ request: HTTPRequest) async -> HTTPResponse {
        let path = request.rawPath
        let idPart = path.hasPrefix("/v2/members/") ? String(path.dropFirst("/v2/members/".count)) : ""
        switch request.method {
        case .POST where idPart.isEmpty:
            let urls: [String]
            switch peerURLs(request) {
            case .success(let u): urls = u
            case .failure(let box): return box.response
            }
            do {
                let m = try await backend.addMember(peerURLs: urls)
                return json(.created, Self.memberJSON(m))
            } catch {
                return memberError(error)
            }
        case .PUT where !idPart.isEmpty:
            guard let id = UInt64(idPart, radix: 16) else { return message(.notFound, "No such member: \(idPart)") }
            let urls: [String]
            switch peerURLs(request) {
            case .success(let u): urls = u
            case .failure(let box): return box.response
            }
            do {
                try await backend.updateMember(id: id, peerURLs: urls)
                return HTTPResponse(status: .noContent)
            } catch {
                return memberError(error)
            }
        case .DELETE where !idPart.isEmpty:
            guard let id = UInt64(idPart, radix: 16) else { return message(.notFound, "No such member: \(idPart)") }
            do {
                try await backend.removeMember(id: id)
                return HTTPResponse(status: .noContent)
            } catch {
                return memberError(error)
            }
        case .GET where !idPart.isEmpty:
            return message(.notFound, "Not found")
        default:
            return methodNotAllowed(idPart.isEmpty ? "GET,POST" : "PUT,DELETE")
        }
    }

    private func peerURLs(_ request: HTTPRequest) -> Result<[String], HTTPResponseBox> {
        let type = request.headers.first(name: "content-type") ?? ""
        guard type.lowercased().hasPrefix("application/json") else {
            return .failure(HTTPResponseBox(message(.unsupportedMediaType, "Bad Content-Type \(type), accept application/json")))
        }
        let text = String(decoding: request.body.readableBytesView, as: UTF8.self)
        guard let urls = MiniJSON.stringArray(in: text, field: "peerURLs") else {
            return .failure(HTTPResponseBox(message(.badRequest, text.isEmpty ? "unexpected end of JSON input" : "invalid JSON body")))
        }
        for url in urls where HTTPEndpoint(url: url) == nil || !url.hasPrefix("http") {
            return .failure(HTTPResponseBox(message(.badRequest, "URL scheme must be http or https: \(url)")))
        }
        return .success(urls)
    }

    private func memberError(_ error: KVBackendError) -> HTTPResponse {
        switch error {
        case .peerURLExists: return message(.conflict, error.description)
        case .memberNotFound: return message(.notFound, error.description)
        case .memberRemoved: return message(.gone, error.description)
        default: return message(.internalServerError, "Internal Server Error")
        }
    }

    static func memberJSON(_ m: MemberInfo) -> String {
        var out = #"{"id":"\#(m.idString)","name":"#
        V2JSON.appendString(m.name, to: &out)
        out += #","peerURLs":"# + MembershipRecords.jsonArray(m.peerURLs)
        out += #","clientURLs":"# + MembershipRecords.jsonArray(m.clientURLs)
        return out + "}"
    }

    // MARK: - Small helpers

    private func metricsText() -> String {
        let s = backend.store.stats
        var out = metrics()
        out += "# TYPE etcd_server_has_leader gauge\netcd_server_has_leader \(backend.leaderID == nil ? 0 : 1)\n"
        out += "# TYPE etcd_server_is_leader gauge\netcd_server_is_leader \(backend.leaderID == backend.memberID ? 1 : 0)\n"
        out += "# TYPE etcd_debugging_store_watchers gauge\netcd_debugging_store_watchers \(s.watchers)\n"
        out += "# TYPE etcd_debugging_store_current_index gauge\netcd_debugging_store_current_index \(backend.store.currentIndex)\n"
        return out
    }

    private func json(_ status: HTTPResponseStatus, _ body: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", text: body + "\n", headers: headers)
    }

    private func message(_ status: HTTPResponseStatus, _ text: String) -> HTTPResponse {
        var out = #"{"message":"#
        V2JSON.appendString(text, to: &out)
        return json(status, out + "}")
    }

    private func methodNotAllowed(_ allow: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Allow", value: allow)
        return HTTPResponse(status: .methodNotAllowed, contentType: "text/plain; charset=utf-8",
                            text: "Method Not Allowed\n", headers: headers)
    }
}

/// Lets a prepared response travel in a `Result` failure.
struct HTTPResponseBox: Error {
    var response: HTTPResponse
    init(_ response: HTTPResponse) { self.response = response }
}

/// The wall clock in Unix nanoseconds: the time a member stamps on commands it proposes and the
/// time local reads use to compute remaining TTLs.
public enum WallClock {
    public static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
