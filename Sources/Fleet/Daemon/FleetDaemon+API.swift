import KV
import NIOSSL

extension FleetDaemon {
    /// The API a real fleetd serves: fleet's v1 routes over the registry, unit status and journal
    /// from this machine's systemd, and forwarding of those to the machine that runs a unit
    /// (`FleetAPIConfiguration(config:machine:)`).
    public static func standardAPI(config: FleetConfig, forwardTLSClient: HTTPClient? = nil)
        -> @Sendable (Registry, MachineState) -> any HTTPResponder
    {
        { registry, machine in
            FleetAPIResponder(
                registry: registry,
                configuration: FleetAPIConfiguration(config: config, machine: machine, forwardTLSClient: forwardTLSClient))
        }
    }

    /// The API listeners of a fleetd: sockets passed by systemd first, then the `api_listen` URLs;
    /// a passed socket replaces the default unix socket (fleetd.socket owns that path).
    public static func apiListeners(config: FleetConfig, activation: SocketActivation) throws(FleetDaemonError)
        -> [HTTPListenAddress]
    {
        var out = activation.sockets.map { HTTPListenAddress.fileDescriptor($0.fileDescriptor) }
        for url in config.apiListen {
            guard let (endpoint, tls) = HTTPEndpoint.parse(url: url) else { throw .badURL(option: "api_listen", value: url) }
            switch endpoint {
            case .unix(let path):
                if activation.sockets.isEmpty { out.append(.unix(path: path)) }
            case .tcp(let host, let port):
                out.append(tls ? .https(host: host, port: port) : .tcp(host: host, port: port))
            }
        }
        return out
    }

    /// `api_advertise_url`, else `http://<public IP>:<port>` of the first TCP listener that other
    /// machines can reach (not loopback); nil when there is none.
    public static func advertisedAPIURL(config: FleetConfig, machine: MachineState, listeners: [HTTPListenAddress])
        -> String?
    {
        if !config.apiAdvertiseURL.isEmpty { return config.apiAdvertiseURL }
        for listener in listeners {
            let scheme: String, host: String, port: Int
            switch listener {
            case .tcp(let h, let p): (scheme, host, port) = ("http", h, p)
            case .https(let h, let p): (scheme, host, port) = ("https", h, p)
            case .unix, .fileDescriptor: continue
            }
            guard port != 0 else { continue }
            let reachable = ["0.0.0.0", "::", ""].contains(host) ? machine.publicIP : host
            guard !reachable.isEmpty, !reachable.hasPrefix("127.") else { continue }
            return reachable.contains(":") ? "\(scheme)://[\(reachable)]:\(port)" : "\(scheme)://\(reachable):\(port)"
        }
        return nil
    }
}

extension FleetDaemon {
    /// The TLS context of the API's `https://` listeners (`api_cert_file`, `api_key_file`; with
    /// `api_ca_file`, clients must present a certificate it signed). Nil when no listener is https.
    public static func apiServerTLS(config: FleetConfig, listeners: [HTTPListenAddress]) throws(FleetDaemonError)
        -> NIOSSLContext?
    {
        guard listeners.contains(where: { if case .https = $0 { true } else { false } }) else { return nil }
        do { return try config.apiTLSFiles.serverContext() } catch {
            throw .tls(options: "api_cert_file/api_key_file/api_ca_file (for an https api_listen)", reason: "\(error)")
        }
    }

    /// The client that forwards status and journal requests to machines advertising an `https://`
    /// API: it trusts `api_ca_file` and presents this machine's API certificate. Nil when this
    /// machine has no API certificate (then such forwards answer 502, naming the options).
    public static func apiForwardTLSClient(config: FleetConfig) throws(FleetDaemonError) -> HTTPClient? {
        guard !config.apiCertFile.isEmpty || !config.apiCAFile.isEmpty else { return nil }
        do { return HTTPClient(tls: try config.apiTLSFiles.clientContext()) } catch {
            throw .tls(options: "api_cert_file/api_key_file/api_ca_file", reason: "\(error)")
        }
    }

    /// The remote store client for `etcd_servers`: TLS (checked against `etcd_cafile`, presenting
    /// `etcd_certfile`/`etcd_keyfile` when set) when the URLs are https, as fleet did.
    public static func remoteStore(config: FleetConfig) throws(FleetDaemonError) -> EtcdV2Client {
        do {
            return try EtcdV2Client(urls: config.etcdServers.joined(separator: ","), timeout: config.etcdRequestTimeout,
                                    tls: config.etcdTLSFiles)
        } catch let error as TLSFilesError {
            throw .tls(options: "etcd_cafile/etcd_certfile/etcd_keyfile", reason: "\(error)")
        } catch {
            throw .store("\(error)")
        }
    }
}

extension FleetConfig {
    /// `api_ca_file`, `api_cert_file`, `api_key_file`: serving https listeners and forwarding to them.
    var apiTLSFiles: TLSFiles { TLSFiles(caFile: apiCAFile, certFile: apiCertFile, keyFile: apiKeyFile) }
    /// `etcd_cafile`, `etcd_certfile`, `etcd_keyfile`: the remote store client's TLS.
    var etcdTLSFiles: TLSFiles { TLSFiles(caFile: etcdCAFile, certFile: etcdCertFile, keyFile: etcdKeyFile) }
}
