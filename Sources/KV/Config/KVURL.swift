/// A peer or client URL as etcd accepts them: `scheme://host:port` with no path.
///
/// etcd rejects a URL without an explicit port or with a path (even `/`), because the value is used
/// both to bind a listener and to tell other members where to connect. We keep the same rules so that
/// a cluster configuration that works with etcd works here and vice versa. IPv6 hosts are written in
/// brackets (`http://[::1]:2380`); `host` holds them without brackets.
public struct KVURL: Hashable, Sendable, CustomStringConvertible {
    /// `http`, `https`, `unix` or `unixs`.
    public var scheme: String
    /// Host name or address, without IPv6 brackets.
    public var host: String
    public var port: Int

    public init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// Where a listener for this URL binds: TCP for `http`, TLS over TCP for `https`; for `unix(s)`,
    /// as etcd does, a Unix socket whose file name is `host:port`, relative to the working directory.
    public var listenAddress: HTTPListenAddress {
        if scheme.hasPrefix("unix") { return .unix(path: "\(host):\(port)") }
        return scheme == "https" ? .https(host: host, port: port) : .tcp(host: host, port: port)
    }

    /// Parses one URL; the error string is a reason suitable for `KVConfigError.invalidURL`.
    public static func parse(_ text: String) -> Result<KVURL, KVURLParseError> {
        let trimmed = text.kvTrimmed
        guard let schemeEnd = trimmed.firstRange(of: "://") else {
            return .failure(KVURLParseError(reason: "URL scheme must be http, https, unix, or unixs"))
        }
        let scheme = String(trimmed[..<schemeEnd.lowerBound]).lowercased()
        guard ["http", "https", "unix", "unixs"].contains(scheme) else {
            return .failure(KVURLParseError(reason: "URL scheme must be http, https, unix, or unixs"))
        }
        let rest = trimmed[schemeEnd.upperBound...]
        if rest.contains("/") || rest.contains("?") || rest.contains("#") {
            return .failure(KVURLParseError(reason: "URL must not contain a path"))
        }
        if rest.contains("@") {
            return .failure(KVURLParseError(reason: "URL must not contain user information"))
        }
        let hostPart: Substring
        let portPart: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                return .failure(KVURLParseError(reason: "URL address does not have the form \"host:port\""))
            }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let afterClose = rest[rest.index(after: close)...]
            guard afterClose.hasPrefix(":") else {
                return .failure(KVURLParseError(reason: "URL address does not have the form \"host:port\""))
            }
            portPart = afterClose.dropFirst()
        } else {
            let colons = rest.filter { $0 == ":" }.count
            guard colons == 1, let colon = rest.firstIndex(of: ":") else {
                return .failure(KVURLParseError(reason: "URL address does not have the form \"host:port\""))
            }
            hostPart = rest[..<colon]
            portPart = rest[rest.index(after: colon)...]
        }
        guard !portPart.isEmpty, portPart.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portPart),
            port <= 65535
        else {
            return .failure(KVURLParseError(reason: "URL port must be a number from 0 to 65535"))
        }
        if hostPart.contains(where: { $0 == " " || $0 == "$" }) {
            return .failure(KVURLParseError(reason: "URL host is not a valid host name or address"))
        }
        return .success(KVURL(scheme: scheme, host: String(hostPart), port: port))
    }

    /// Parses etcd's comma-separated URL list; an empty list is an error since every URL flag needs one.
    public static func parseList(_ text: String) -> Result<[KVURL], KVURLListError> {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).kvTrimmed }
        if items.allSatisfy(\.isEmpty) {
            return .failure(KVURLListError(url: text, reason: "expected at least one URL"))
        }
        var result: [KVURL] = []
        for item in items {
            switch parse(item) {
            case .success(let url): result.append(url)
            case .failure(let error): return .failure(KVURLListError(url: item, reason: error.reason))
            }
        }
        return .success(result)
    }

    public var description: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostText):\(port)"
    }
}

/// Why a single URL was rejected.
public struct KVURLParseError: Error, Equatable, Sendable {
    public var reason: String
}

/// Which URL of a list was rejected, and why.
public struct KVURLListError: Error, Equatable, Sendable {
    public var url: String
    public var reason: String
}

extension [KVURL] {
    /// etcd's list syntax: URLs joined by commas.
    public var commaSeparated: String { map(\.description).joined(separator: ",") }
}

extension String {
    var kvTrimmed: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\n" || first == "\r" {
            scalars = scalars.dropFirst()
        }
        while let last = scalars.last, last == " " || last == "\t" || last == "\n" || last == "\r" {
            scalars = scalars.dropLast()
        }
        return String(scalars)
    }
}
