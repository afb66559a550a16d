/// A parsed `/v2/keys` request: what the HTTP layer should do with it.
public enum KeysRequest: Sendable, Hashable {
    /// Local GET/HEAD: answer from this member's store with `Store.get` (may be stale on a follower).
    case get(key: String, recursive: Bool, sorted: Bool)
    /// GET wait=true: register with `Store.watch`.
    case watch(key: String, recursive: Bool, stream: Bool, waitIndex: UInt64)
    /// A write, or a quorum GET: propose `StoreCommand(now: leaderClock, operation)` through Raft and
    /// answer with the outcome of applying it.
    case propose(StoreOperation)
}

/// The result of parsing: the request plus response options.
public struct ParsedKeysRequest: Sendable, Hashable {
    public var request: KeysRequest
    /// `noValueOnSuccess=true`: pass to `V2JSON.encode(_:noValueOnSuccess:)`.
    public var noValueOnSuccess: Bool

    public init(request: KeysRequest, noValueOnSuccess: Bool = false) {
        self.request = request
        self.noValueOnSuccess = noValueOnSuccess
    }
}

/// Turns a `/v2/keys` request's method, key and form into a `KeysRequest`, with etcd's exact errors
/// (index 0, as for every request-parsing error), so the HTTP layer stays thin.
///
/// Checks run in etcd's order: form syntax (210), prevIndex/waitIndex (203), the booleans recursive,
/// sorted, wait, dir, quorum, stream (209), `wait` on a non-GET (209), empty prevValue (201),
/// noValueOnSuccess (209), ttl (202), prevExist (209), refresh (209, then 211/212).
public enum KeysRequestParser {
    /// Methods the keys endpoint serves; anything else is answered `405` with
    /// `Allow: HEAD,GET,PUT,POST,DELETE` by the HTTP layer before parsing.
    public static let allowedMethods: Set<String> = ["GET", "HEAD", "PUT", "POST", "DELETE"]

    /// Default limit on `value` (1 MiB).
    public static let defaultMaxValueSize = 1 << 20

    /// - Parameters:
    ///   - method: HTTP method (one of `allowedMethods`).
    ///   - key: the percent-decoded path after `/v2/keys` (`""` or `/` for the root); mapped to the
    ///     internal `/1` namespace with `KeyPath.userKey`.
    ///   - query: the raw (still escaped) URL query string, without `?`.
    ///   - body: the raw request body when `Content-Type` is `application/x-www-form-urlencoded`, else
    ///     `nil` (a JSON body is ignored by etcd). Only read for PUT and POST. Body values come
    ///     before query values, and only the first value of a parameter counts.
    ///   - maxValueSize: longer values (in UTF-8 bytes) are refused with error 300
    ///     `etcdserver: request is too large` (our choice: etcd rejects oversize proposals with that
    ///     message; the reference does not pin the v2 answer).
    public static func parse(method: String, key: String, query: String, body: String? = nil,
                             maxValueSize: Int = defaultMaxValueSize) -> Result<ParsedKeysRequest, StoreError>
    {
        Result { () throws(StoreError) in
            try parseOrThrow(method: method, key: key, query: query, body: body, maxValueSize: maxValueSize)
        }
    }

    static func parseOrThrow(method: String, key: String, query: String, body: String?, maxValueSize: Int)
        throws(StoreError) -> ParsedKeysRequest
    {
        guard allowedMethods.contains(method) else {
            throw StoreError(.invalidForm, cause: "method \(method) not allowed")
        }
        var form = FormValues()
        var formError: String?
        if let body, method == "PUT" || method == "POST" {
            formError = form.parse(body)
        }
        if let e = form.parse(query), formError == nil { formError = e }
        if let formError { throw StoreError(.invalidForm, cause: formError) }

        let path = KeyPath.userKey(key)
        let prevIndex = try form.uint("prevIndex", orThrow: StoreError(.indexNaN, cause: #"invalid value for "prevIndex""#))
        let waitIndex = try form.uint("waitIndex", orThrow: StoreError(.indexNaN, cause: #"invalid value for "waitIndex""#))
        func flag(_ name: String) throws(StoreError) -> Bool {
            try form.bool(name, orThrow: StoreError(.invalidField, cause: "invalid value for \"\(name)\""))
        }
        let recursive = try flag("recursive")
        let sorted = try flag("sorted")
        let wait = try flag("wait")
        let dir = try flag("dir")
        let quorum = try flag("quorum")
        let stream = try flag("stream")
        if wait && method != "GET" {
            throw StoreError(.invalidField, cause: #""wait" can only be used with GET requests"#)
        }
        let prevValue = form.first("prevValue") ?? ""
        if form.has("prevValue") && prevValue.isEmpty {
            throw StoreError(.prevValueRequired, cause: #""prevValue" cannot be empty"#)
        }
        let noValueOnSuccess = try flag("noValueOnSuccess")
        var ttl: UInt64?
        if let t = form.first("ttl"), !t.isEmpty {
            guard let v = FormValues.parseUInt(t) else {
                throw StoreError(.ttlNaN, cause: #"invalid value for "ttl""#)
            }
            ttl = v
        }
        var prevExist: Bool?
        if let v = form.first("prevExist") {
            guard let b = FormValues.parseBool(v) else {
                throw StoreError(.invalidField, cause: "invalid value for prevExist")
            }
            prevExist = b
        }
        let value = form.first("value") ?? ""
        var refresh = false
        if let v = form.first("refresh") {
            guard let b = FormValues.parseBool(v) else {
                throw StoreError(.invalidField, cause: "invalid value for refresh")
            }
            refresh = b
            if refresh {
                if !value.isEmpty { throw StoreError(.refreshValue, cause: "A value was provided on a refresh") }
                if ttl == nil { throw StoreError(.refreshTTLRequired, cause: "No TTL value set") }
            }
        }
        if (method == "PUT" || method == "POST") && value.utf8.count > maxValueSize {
            throw StoreError(.raftInternal, cause: "etcdserver: request is too large")
        }

        let request: KeysRequest
        switch method {
        case "GET" where quorum:
            request = .propose(.get(key: path, recursive: recursive, sorted: sorted))
        case "GET" where wait:
            request = .watch(key: path, recursive: recursive, stream: stream, waitIndex: waitIndex)
        case "GET", "HEAD":
            request = .get(key: path, recursive: recursive, sorted: sorted)
        case "POST":
            request = .propose(.create(key: path, value: value, dir: dir, ttl: ttl, inOrder: true))
        case "DELETE":
            if prevIndex > 0 || !prevValue.isEmpty {
                request = .propose(.compareAndDelete(key: path, prevValue: prevValue, prevIndex: prevIndex))
            } else {
                request = .propose(.delete(key: path, dir: dir, recursive: recursive))
            }
        default:  // PUT
            switch prevExist {
            case true? where prevIndex == 0 && prevValue.isEmpty:
                request = .propose(.update(key: path, value: value, ttl: ttl, refresh: refresh))
            case true?:
                request = .propose(.compareAndSwap(key: path, value: value, prevValue: prevValue,
                                                   prevIndex: prevIndex, ttl: ttl, refresh: refresh))
            case false?:
                request = .propose(.create(key: path, value: value, dir: dir, ttl: ttl, inOrder: false))
            case nil where prevIndex > 0 || !prevValue.isEmpty:
                request = .propose(.compareAndSwap(key: path, value: value, prevValue: prevValue,
                                                   prevIndex: prevIndex, ttl: ttl, refresh: refresh))
            case nil:
                request = .propose(.set(key: path, value: value, dir: dir, ttl: ttl, refresh: refresh))
            }
        }
        return ParsedKeysRequest(request: request, noValueOnSuccess: noValueOnSuccess)
    }
}
