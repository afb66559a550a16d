/// A parsed `--discovery` URL: where the discovery service listens and the keys path of the token.
///
/// etcd treats the whole URL path as the token directory (`/v2/keys/_etcd/registry/<token>`), so any
/// v2 keys endpoint works as a discovery service, including one of our own members.
public struct DiscoveryURL: Sendable, Equatable, CustomStringConvertible {
    /// The server holding the registry.
    public let endpoint: HTTPEndpoint
    /// The token directory's request path, e.g. `/v2/keys/_etcd/registry/3f2a…`; no trailing slash.
    public let path: String
    /// The URL as given; etcd uses it as the cluster token for member and cluster IDs.
    public let text: String

    /// Parses `http://host[:port]/path`. `https` is refused: this client has no TLS.
    public init(_ text: String) throws(DiscoveryError) {
        let trimmed = text.kvTrimmed
        guard trimmed.hasPrefix("http://") else {
            throw .invalidURL(trimmed.hasPrefix("https://") ? "\(trimmed): https discovery is not supported; serve the registry over http" : trimmed)
        }
        let rest = trimmed.dropFirst("http://".count)
        guard let slash = rest.firstIndex(of: "/"), let endpoint = HTTPEndpoint(url: trimmed) else { throw .invalidURL(trimmed) }
        var path = String(rest[slash...])
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<q]) }
        while path.hasSuffix("/") { path.removeLast() }
        guard path.count > 1 else { throw .invalidURL(trimmed) }
        self.endpoint = endpoint
        self.path = path
        self.text = trimmed
    }

    /// The last path component (the token itself).
    public var token: String { String(path.split(separator: "/").last ?? "") }

    /// The full URL of a key below the token directory (`_config/size`, a member ID).
    func url(_ suffix: String) -> String { "\(endpoint)\(requestPath(suffix))" }

    /// The request path of a key below the token directory; a bare `?query` applies to the directory.
    func requestPath(_ suffix: String) -> String {
        suffix.isEmpty || suffix.hasPrefix("?") ? path + suffix : "\(path)/\(suffix)"
    }

    public var description: String { text }
}
