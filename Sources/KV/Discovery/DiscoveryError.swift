/// Why bootstrapping through a discovery URL failed.
///
/// The cases are etcd's v2 discovery errors (`ErrFullCluster`, `ErrDuplicateID`, …) so that runbooks
/// written for etcd still apply; `description` gives the line `fleetd kv` exits with and `advice`
/// says what the operator should do next (etcd prints the same advice as separate log lines).
public enum DiscoveryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The discovery URL is not an `http://host[:port]/path` URL, or a registered value is not
    /// `name=peerURL,…`.
    case invalidURL(String)
    /// `_config/size` holds something other than a positive integer.
    case badSizeKey(value: String)
    /// `_config/size` does not exist under the token.
    case sizeNotFound(key: String)
    /// The token directory itself does not exist.
    case tokenNotFound(key: String)
    /// This member's ID is already registered: it bootstrapped (or tried to) with this token before.
    case duplicateID(name: String, token: String)
    /// Two registrations among the first `size` carry the same member name.
    case duplicateName(cluster: String)
    /// `size` other members registered first.
    case fullCluster
    /// The discovery service stayed unreachable through every retry.
    case tooManyRetries(attempts: Int, url: String, lastError: String)
    /// The service answered, but not with etcd v2 keys JSON.
    case badDiscoveryEndpoint(url: String, status: Int)
    /// `--discovery-srv` (DNS SRV bootstrap) was asked for; this server does not resolve SRV records.
    case srvUnsupported(domain: String)

    /// The error message, in etcd's words where etcd has them.
    public var description: String {
        switch self {
        case .invalidURL(let text):
            return "discovery: invalid URL (\(text))"
        case .badSizeKey(let value):
            return "discovery: size key is bad (\"\(value)\" is not a positive integer)"
        case .sizeNotFound(let key):
            return "discovery: size key not found (\(key))"
        case .tokenNotFound(let key):
            return "discovery: token not found (\(key))"
        case .duplicateID(let name, let token):
            return "member \"\(name)\" has previously registered with discovery service token (\(token))."
        case .duplicateName(let cluster):
            return "discovery: found duplicate name in cluster (\(cluster))"
        case .fullCluster:
            return "discovery: cluster is full"
        case .tooManyRetries(let attempts, let url, let lastError):
            return "discovery: too many retries (\(attempts) attempts to reach \(url); last error: \(lastError))"
        case .badDiscoveryEndpoint(let url, let status):
            return "discovery: bad discovery endpoint (\(url) answered HTTP \(status) without etcd v2 keys JSON)"
        case .srvUnsupported(let domain):
            return "discovery: DNS SRV discovery (--discovery-srv \(domain)) is not supported"
        }
    }

    /// What to do about it, one sentence per line.
    public var advice: [String] {
        switch self {
        case .duplicateID:
            return ["But this member could not find a valid cluster configuration in its data dir.",
                    "Check the --data-dir path if the previous bootstrap succeeded, or use a new discovery token if it failed."]
        case .duplicateName:
            return ["Check the registrations under the discovery token (curl it) for the repeated name.",
                    "Do not reuse the discovery token: generate a new one to bootstrap the cluster."]
        case .sizeNotFound(let key):
            return ["Set the expected cluster size first: curl -XPUT \(key) -d value=3"]
        case .tooManyRetries:
            return ["Check that the discovery service is running and reachable from this machine (and --discovery-proxy, if set)."]
        case .invalidURL, .badDiscoveryEndpoint:
            return ["--discovery must be a v2 keys URL such as http://10.0.0.1:2379/v2/keys/_etcd/registry/<token>."]
        case .srvUnsupported:
            return ["Use --discovery with a v2 keys URL, or list the members with --initial-cluster."]
        case .badSizeKey, .tokenNotFound, .fullCluster:
            return ["Generate a new discovery token and try to bootstrap again."]
        }
    }
}
