import KV

extension FleetDaemon {
    /// The API a real fleetd serves: fleet's v1 routes over the registry, unit status and journal
    /// from this machine's systemd, and forwarding of those to the machine that runs a unit
    /// (`FleetAPIConfiguration(config:machine:)`).
    public static func standardAPI(config: FleetConfig) -> @Sendable (Registry, MachineState) -> any HTTPResponder {
        { registry, machine in
            FleetAPIResponder(registry: registry, configuration: FleetAPIConfiguration(config: config, machine: machine))
        }
    }

    /// The API listeners of a fleetd: sockets passed by systemd first, then the `api_listen` URLs;
    /// a passed socket replaces the default unix socket (fleetd.socket owns that path).
    public static func apiListeners(config: FleetConfig, activation: SocketActivation) throws(FleetDaemonError)
        -> [HTTPListenAddress]
    {
        var out = activation.sockets.map { HTTPListenAddress.fileDescriptor($0.fileDescriptor) }
        for url in config.apiListen {
            guard let endpoint = HTTPEndpoint(url: url) else { throw .badURL(option: "api_listen", value: url) }
            switch endpoint {
            case .unix(let path):
                if activation.sockets.isEmpty { out.append(.unix(path: path)) }
            case .tcp(let host, let port):
                out.append(.tcp(host: host, port: port))
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
            guard case .tcp(let host, let port) = listener, port != 0 else { continue }
            let reachable = ["0.0.0.0", "::", ""].contains(host) ? machine.publicIP : host
            guard !reachable.isEmpty, !reachable.hasPrefix("127.") else { continue }
            return reachable.contains(":") ? "http://[\(reachable)]:\(port)" : "http://\(reachable):\(port)"
        }
        return nil
    }
}
