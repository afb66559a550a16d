import KV

/// `--endpoint`: one or more comma-separated fleet API URLs, tried in order for failover:
/// `unix:///path`, `http://host[:port]` or `https://host[:port]` (with --ca-file, --cert-file,
/// --key-file).
public enum EndpointList {
    public static let defaultEndpoint = "unix:///var/run/fleet.sock"

    public static func parse(_ value: String) throws(CLIError) -> [String] {
        let endpoints = value.split(separator: ",").map { String($0).filter { !$0.isWhitespace } }.filter { !$0.isEmpty }
        guard !endpoints.isEmpty else { throw .usage("--endpoint is empty; expected e.g. \(defaultEndpoint)") }
        for endpoint in endpoints {
            if endpoint.hasPrefix("unix://") {
                guard endpoint.count > "unix://".count else {
                    throw .usage("endpoint \(endpoint): no socket path; expected unix:///path/to/fleet.sock")
                }
            } else if endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") {
                guard HTTPEndpoint.parse(url: endpoint) != nil else {
                    throw .usage("endpoint \(endpoint): no usable host and port; expected http(s)://host:port")
                }
            } else {
                throw .usage("endpoint \(endpoint): expected unix:///path, http://host:port or https://host:port")
            }
        }
        return endpoints
    }

    /// `--request-timeout` in seconds: a positive number.
    public static func timeout(_ seconds: Double) throws(CLIError) -> Double {
        guard seconds > 0, seconds.isFinite else {
            throw .usage("--request-timeout must be a positive number of seconds, not \(seconds)")
        }
        return seconds
    }
}
