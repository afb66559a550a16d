extension KVConfig {
    /// Applies settings over the defaults, fills derived defaults, then checks cross-flag rules.
    /// Never stops at the first problem: every error is collected.
    static func resolve(_ settings: [String: KVSetting]) -> (KVConfig, [KVConfigError], [KVConfigWarning]) {
        var config = KVConfig()
        var errors: [KVConfigError] = []
        var warnings: [KVConfigWarning] = []

        func string(_ name: String) -> String? { settings[name]?.value }
        func bad(_ name: String, _ expected: String) {
            let setting = settings[name]!
            errors.append(.invalidValue(flag: name, source: setting.source, value: setting.value, expected: expected))
        }
        func uint(_ name: String) -> UInt64? {
            guard let text = string(name) else { return nil }
            let trimmed = text.kvTrimmed
            guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt64(trimmed) else {
                bad(name, "expected a non-negative whole number")
                return nil
            }
            return value
        }
        func milliseconds(_ name: String) -> Int? {
            guard let value = uint(name) else { return nil }
            guard value <= UInt64(Int32.max) else {
                bad(name, "expected a number of milliseconds up to \(Int32.max)")
                return nil
            }
            return Int(value)
        }
        func bool(_ name: String) -> Bool? {
            guard let text = string(name) else { return nil }
            guard let value = KVFlag.parseBool(text.kvTrimmed) else {
                bad(name, "expected true or false")
                return nil
            }
            return value
        }
        func urls(_ name: String) -> [KVURL]? {
            guard let text = string(name) else { return nil }
            switch KVURL.parseList(text) {
            case .success(let list): return list
            case .failure(let error):
                errors.append(.invalidURL(flag: name, url: error.url, reason: error.reason))
                return nil
            }
        }
        func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type) -> T? where T.RawValue == String {
            guard let text = string(name) else { return nil }
            guard let value = T(rawValue: text.kvTrimmed) else {
                let valid = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                bad(name, "valid values are \(valid)")
                return nil
            }
            return value
        }

        for flag in KVFlag.all where settings[flag.name] != nil {
            if let deprecation = flag.deprecation {
                warnings.append(KVConfigWarning(flag: flag.name, message: "--\(flag.name) is deprecated: \(deprecation)"))
            }
        }

        if let v = string("name") {
            if v.isEmpty { bad("name", "expected a non-empty member name") } else { config.name = v }
        }
        config.dataDir = string("data-dir").flatMap { $0.isEmpty ? nil : $0 } ?? "\(config.name).etcd"
        config.walDir = string("wal-dir").flatMap { $0.isEmpty ? nil : $0 }
        if let v = uint("snapshot-count") { config.snapshotCount = v }
        if let v = milliseconds("heartbeat-interval") { config.heartbeatInterval = v }
        if let v = milliseconds("election-timeout") { config.electionTimeout = v }
        if let v = milliseconds("max-snapshots") { config.maxSnapshots = v }
        if let v = milliseconds("max-wals") { config.maxWALs = v }
        if let v = urls("listen-peer-urls") { config.listenPeerURLs = v }
        if let v = urls("listen-client-urls") { config.listenClientURLs = v }
        if let v = urls("initial-advertise-peer-urls") { config.initialAdvertisePeerURLs = v }
        if let v = urls("advertise-client-urls") { config.advertiseClientURLs = v }
        if let v = string("cors") {
            config.cors = v.split(separator: ",").map { String($0).kvTrimmed }.filter { !$0.isEmpty }
        }
        if let v = bool("enable-v2") {
            config.enableV2 = true
            if !v {
                warnings.append(KVConfigWarning(flag: "enable-v2", message: "--enable-v2=false ignored: this server only serves the v2 API"))
            }
        }
        if let v = choice("initial-cluster-state", InitialClusterState.self) { config.initialClusterState = v }
        if let v = string("initial-cluster-token") { config.initialClusterToken = v }
        if let v = choice("discovery-fallback", DiscoveryFallback.self) { config.discoveryFallback = v }
        config.discoveryProxy = string("discovery-proxy").flatMap { $0.isEmpty ? nil : $0 }
        config.discoverySRV = string("discovery-srv").flatMap { $0.isEmpty ? nil : $0 }
        if let v = bool("strict-reconfig-check") { config.strictReconfigCheck = v }
        if let v = bool("force-new-cluster") { config.forceNewCluster = v }
        if let v = choice("proxy", ProxyMode.self) { config.proxy = v }
        if let v = milliseconds("proxy-failure-wait") { config.proxyFailureWait = v }
        if let v = milliseconds("proxy-refresh-interval") { config.proxyRefreshInterval = v }
        if let v = milliseconds("proxy-dial-timeout") { config.proxyDialTimeout = v }
        if let v = milliseconds("proxy-write-timeout") { config.proxyWriteTimeout = v }
        if let v = milliseconds("proxy-read-timeout") { config.proxyReadTimeout = v }
        if let v = string("cert-file") { config.clientTLS.certFile = v }
        if let v = string("key-file") { config.clientTLS.keyFile = v }
        if let v = bool("client-cert-auth") { config.clientTLS.clientCertAuth = v }
        if let v = string("trusted-ca-file") { config.clientTLS.trustedCAFile = v }
        if let v = bool("auto-tls") { config.clientTLS.autoTLS = v }
        if let v = string("ca-file"), !v.isEmpty, config.clientTLS.trustedCAFile.isEmpty {
            // The old flag meant "trust this CA and require client certificates".
            config.clientTLS.trustedCAFile = v
            config.clientTLS.clientCertAuth = true
        }
        if let v = string("peer-cert-file") { config.peerTLS.certFile = v }
        if let v = string("peer-key-file") { config.peerTLS.keyFile = v }
        if let v = bool("peer-client-cert-auth") { config.peerTLS.clientCertAuth = v }
        if let v = string("peer-trusted-ca-file") { config.peerTLS.trustedCAFile = v }
        if let v = bool("peer-auto-tls") { config.peerTLS.autoTLS = v }
        if let v = string("peer-ca-file"), !v.isEmpty, config.peerTLS.trustedCAFile.isEmpty {
            config.peerTLS.trustedCAFile = v
            config.peerTLS.clientCertAuth = true
        }
        if let v = bool("debug") { config.debug = v }
        config.logPackageLevels = string("log-package-levels").flatMap { $0.isEmpty ? nil : $0 }
        if let v = bool("enable-pprof") { config.enablePprof = v }

        // Discovery URL: must be an http(s) URL whose path ends in the token.
        if let v = string("discovery"), !v.kvTrimmed.isEmpty {
            let text = v.kvTrimmed
            if isDiscoveryURL(text) {
                config.discovery = text
            } else {
                bad("discovery", "expected an http(s) URL with a token path, like http://10.0.0.1:2379/v2/keys/_etcd/registry/<token>")
            }
        }

        // Bootstrap source: exactly one of initial-cluster, discovery, discovery-srv.
        let explicitCluster = settings["initial-cluster"] != nil
        let bootstrapFlags = [explicitCluster ? "initial-cluster" : nil,
                              config.discovery != nil ? "discovery" : nil,
                              config.discoverySRV != nil ? "discovery-srv" : nil].compactMap { $0 }
        if bootstrapFlags.count > 1 {
            errors.append(.inconsistent(
                flag: bootstrapFlags[1],
                message: "multiple discovery or bootstrap flags are set (\(bootstrapFlags.map { "--\($0)" }.joined(separator: ", "))). "
                    + "Choose one of \"initial-cluster\", \"discovery\" or \"discovery-srv\""))
        }
        if let text = string("initial-cluster") {
            switch KVInitialCluster.parse(text) {
            case .success(let cluster): config.initialCluster = cluster
            case .failure(let error):
                if case .invalidValue(let flag, _, let value, let expected) = error {
                    errors.append(.invalidValue(flag: flag, source: settings["initial-cluster"]!.source, value: value, expected: expected))
                } else {
                    errors.append(error)
                }
            }
        } else {
            // Deliberate deviation from etcd, which keeps "default=http://localhost:2380" unless the name
            // changed: we always derive it, so a one-member cluster with custom peer URLs just works.
            config.initialCluster = KVInitialCluster(members: [.init(name: config.name, peerURLs: config.initialAdvertisePeerURLs)])
        }

        checkRules(config, settings: settings, errors: &errors)
        return (config, errors, warnings)
    }

    /// Cross-flag rules; each message says which flag to change.
    static func checkRules(_ config: KVConfig, settings: [String: KVSetting], errors: inout [KVConfigError]) {
        if config.heartbeatInterval == 0 {
            errors.append(.inconsistent(flag: "heartbeat-interval", message: "--heartbeat-interval must be greater than 0"))
        } else if config.electionTimeout < 5 * config.heartbeatInterval {
            errors.append(.inconsistent(
                flag: settings["election-timeout"] != nil ? "election-timeout" : "heartbeat-interval",
                message: "--election-timeout[\(config.electionTimeout)ms] should be at least as 5 times as "
                    + "--heartbeat-interval[\(config.heartbeatInterval)ms]"))
        }
        if config.electionTimeout > 50000 {
            errors.append(.inconsistent(
                flag: "election-timeout",
                message: "--election-timeout[\(config.electionTimeout)ms] is too long, and should be set less than 50000ms"))
        }
        if settings["listen-client-urls"] != nil, settings["advertise-client-urls"] == nil, config.proxy == .off {
            errors.append(.inconsistent(
                flag: "listen-client-urls",
                message: "--advertise-client-urls is required when --listen-client-urls is set explicitly"))
        }
        // Each peer URL may belong to one member only.
        var owner: [KVURL: String] = [:]
        for member in config.initialCluster.members {
            for url in member.peerURLs {
                if let other = owner[url], other != member.name {
                    errors.append(.inconsistent(
                        flag: "initial-cluster",
                        message: "--initial-cluster lists \(url) for both \"\(other)\" and \"\(member.name)\""))
                }
                owner[url] = member.name
            }
        }
        // Static bootstrap: our own entry must exist and match what we advertise.
        let staticBootstrap = config.discovery == nil && config.discoverySRV == nil && config.proxy == .off
        if staticBootstrap, settings["initial-cluster"] != nil {
            if let listed = config.initialCluster.peerURLs(of: config.name) {
                if Set(listed) != Set(config.initialAdvertisePeerURLs) {
                    errors.append(.inconsistent(
                        flag: "initial-advertise-peer-urls",
                        message: "--initial-cluster has \(config.name)=\(listed.commaSeparated) but "
                            + "--initial-advertise-peer-urls is \(config.initialAdvertisePeerURLs.commaSeparated); they must match"))
                }
            } else {
                errors.append(.inconsistent(
                    flag: "name",
                    message: "couldn't find local name \"\(config.name)\" in the initial cluster configuration "
                        + "(--initial-cluster names: \(config.initialCluster.members.map(\.name).joined(separator: ", ")))"))
            }
        }
        if config.proxy != .off, config.discovery == nil, config.discoverySRV == nil, settings["initial-cluster"] == nil {
            errors.append(.inconsistent(
                flag: "proxy",
                message: "--proxy=\(config.proxy.rawValue) needs the cluster to forward to: set --initial-cluster or --discovery"))
        }
    }

    /// `http(s)://host[:port]/path` with a non-empty path (the last component is the token).
    static func isDiscoveryURL(_ text: String) -> Bool {
        guard let schemeEnd = text.firstRange(of: "://") else { return false }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return false }
        let rest = text[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex else { return false }
        let path = rest[rest.index(after: slash)...]
        if rest.contains(" ") { return false }
        return !path.isEmpty && !path.hasSuffix("/")
    }
}
