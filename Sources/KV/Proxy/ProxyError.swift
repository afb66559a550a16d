/// Why a proxy could not start.
public enum ProxyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `<data-dir>/proxy/cluster` cannot be read or written.
    case clusterFile(path: String, reason: String)
    /// Neither the cluster file, `--discovery` nor `--initial-cluster` names a peer URL.
    case noPeers
    /// A client listener could not be opened.
    case listen(String)
    /// Discovery (`--discovery`) failed while looking up the cluster.
    case discovery(DiscoveryError)

    public var description: String {
        switch self {
        case .clusterFile(let path, let reason): return "proxy cluster file \(path): \(reason)"
        case .noPeers: return "proxy: no peer URLs to learn the cluster from; set --initial-cluster or --discovery"
        case .listen(let why): return "proxy: \(why)"
        case .discovery(let e): return "proxy: failed to read the cluster from the discovery service (\(e)); " + e.advice.joined(separator: " ")
        }
    }
}
