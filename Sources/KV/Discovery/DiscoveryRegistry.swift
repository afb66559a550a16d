import Logging
import NIOCore
import NIOHTTP1

/// One registration under the discovery token: `<token>/<memberID>` = `name=peerURL,…`.
struct DiscoveryRegistration: Sendable, Equatable {
    /// The key's last component: the member ID in hex.
    var id: String
    var value: String
    var createdIndex: UInt64
}

/// How long the discovery client keeps trying an unreachable service.
///
/// etcd retries for ever with delays of 2^n seconds (capped at 2^8). A bounded default gives the
/// operator a clear error instead of a member that hangs silently at boot; the total wait is still
/// long enough (about four minutes) for a discovery service that boots alongside the members.
public struct DiscoveryRetryPolicy: Sendable, Equatable {
    /// Retries after the first failure of an operation before giving up.
    public var maxRetries: Int
    /// Delay before the first retry; it doubles on each further retry.
    public var firstDelay: Duration
    /// Upper bound for one delay.
    public var maxDelay: Duration
    /// Bound for a single request (long-poll watches excepted).
    public var requestTimeout: Double

    public init(maxRetries: Int = 8, firstDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(256),
                requestTimeout: Double = 5) {
        self.maxRetries = maxRetries
        self.firstDelay = firstDelay
        self.maxDelay = maxDelay
        self.requestTimeout = requestTimeout
    }

    func delay(afterFailure n: Int) -> Duration {
        var d = firstDelay
        for _ in 0..<min(n, 16) where d < maxDelay { d = d * 2 }
        return min(d, maxDelay)
    }
}

/// The v2 keys requests of the discovery protocol, with etcd's retry-and-backoff on connection
/// failures. Answers that are not etcd JSON end at once (`badDiscoveryEndpoint`): retrying a wrong
/// URL would only delay the error.
final class DiscoveryRegistry {
    let url: DiscoveryURL
    let proxy: HTTPEndpoint?
    let policy: DiscoveryRetryPolicy
    let logger: Logger
    private let client = HTTPClient()
    /// Retries used so far; shared by all operations, as etcd's counter is.
    private var retries = 0

    init(url: DiscoveryURL, proxy: HTTPEndpoint?, policy: DiscoveryRetryPolicy, logger: Logger) {
        self.url = url
        self.proxy = proxy
        self.policy = policy
        self.logger = logger
    }

    deinit { client.shutdown() }

    /// A keys answer: status, `X-Etcd-Index`, and the parsed JSON body.
    struct Answer {
        var status: Int
        var index: UInt64
        var json: JSONValue
        var errorCode: Int? { json["errorCode"]?.numberValue.map { Int($0) } }
    }

    /// The value of `_config/size`.
    func size() async throws -> Int {
        let answer = try await request(.GET, "_config/size")
        if answer.errorCode == 100 { throw DiscoveryError.sizeNotFound(key: url.url("_config/size")) }
        guard answer.status == 200, let text = answer.json["node"]?["value"]?.stringValue else {
            throw DiscoveryError.badDiscoveryEndpoint(url: url.url("_config/size"), status: answer.status)
        }
        guard let size = Int(text), size > 0 else { throw DiscoveryError.badSizeKey(value: text) }
        return size
    }

    /// The registrations (hidden `_config` excluded) sorted by creation, and the registry's index.
    func registrations() async throws -> ([DiscoveryRegistration], UInt64) {
        let answer = try await request(.GET, "")
        if answer.errorCode == 100 { throw DiscoveryError.tokenNotFound(key: url.url("")) }
        guard answer.status == 200, let node = answer.json["node"] else {
            throw DiscoveryError.badDiscoveryEndpoint(url: url.url(""), status: answer.status)
        }
        let list = (node["nodes"]?.arrayValue ?? []).compactMap(Self.registration)
        return (list.sorted { $0.createdIndex < $1.createdIndex }, answer.index)
    }

    /// Creates `<token>/<id>` with `prevExist=false`; nil when the key already exists.
    func create(id: String, value: String) async throws -> UInt64? {
        let answer = try await request(.PUT, "\(id)?prevExist=false", form: "value=\(URLEncoding.percentEncode(value))")
        if answer.errorCode == 105 { return nil }
        guard answer.status == 201, let created = answer.json["node"]?["createdIndex"]?.numberValue else {
            throw DiscoveryError.badDiscoveryEndpoint(url: url.url(id), status: answer.status)
        }
        return UInt64(created)
    }

    /// The service no longer holds events from the index asked for (more than 1000 writes since):
    /// the caller lists the directory again and watches from there.
    struct HistoryCleared: Error {}

    /// The next event at or after `waitIndex` under `key` (a long poll; re-issued when it times out).
    func watch(_ key: String, waitIndex: UInt64, recursive: Bool) async throws -> JSONValue {
        while true {
            let query = "\(key)?wait=true&waitIndex=\(waitIndex)\(recursive ? "&recursive=true" : "")"
            let answer: Answer
            do {
                answer = try await request(.GET, query, timeout: 60, retryTimeouts: false)
            } catch HTTPClientError.timedOut {
                continue
            }
            if answer.errorCode == 401 { throw HistoryCleared() }
            guard answer.status == 200, answer.json["node"] != nil else {
                throw DiscoveryError.badDiscoveryEndpoint(url: url.url(key), status: answer.status)
            }
            return answer.json
        }
    }

    static func registration(_ node: JSONValue) -> DiscoveryRegistration? {
        guard let key = node["key"]?.stringValue, let id = key.split(separator: "/").last, !id.hasPrefix("_"),
              node["dir"] == nil, let value = node["value"]?.stringValue else { return nil }
        return DiscoveryRegistration(id: String(id), value: value, createdIndex: UInt64(node["createdIndex"]?.numberValue ?? 0))
    }

    /// Sends one request, retrying connection failures with exponential backoff.
    private func request(_ method: HTTPMethod, _ suffix: String, form: String? = nil, timeout: Double? = nil,
                         retryTimeouts: Bool = true) async throws -> Answer {
        var headers = HTTPHeaders()
        var body: ByteBuffer?
        if let form {
            headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            body = ByteBuffer(string: form)
        }
        let target: HTTPEndpoint
        let uri: String
        if let proxy {
            target = proxy
            uri = url.url(suffix)
            headers.add(name: "Host", value: url.endpoint.hostHeader)
        } else {
            target = url.endpoint
            uri = url.requestPath(suffix)
        }
        while true {
            do {
                let r = try await client.execute(method, target, uri, headers: headers, body: body,
                                                 timeout: timeout ?? policy.requestTimeout)
                guard let json = MiniJSON.parse(r.bodyString) else {
                    throw DiscoveryError.badDiscoveryEndpoint(url: url.url(suffix), status: Int(r.status.code))
                }
                let index = r.headers.first(name: "X-Etcd-Index").flatMap { UInt64($0) } ?? 0
                return Answer(status: Int(r.status.code), index: index, json: json)
            } catch let error as HTTPClientError {
                if case .timedOut = error, !retryTimeouts { throw error }
                guard retries < policy.maxRetries else {
                    throw DiscoveryError.tooManyRetries(attempts: retries + 1, url: url.text, lastError: "\(error)")
                }
                let delay = policy.delay(afterFailure: retries)
                retries += 1
                logger.warning("discovery service unreachable; retrying", metadata: [
                    "url": "\(url.text)", "error": "\(error)", "retry": "\(retries)/\(policy.maxRetries)", "backoff": "\(delay)"])
                try await Task.sleep(for: delay)
            }
        }
    }
}
