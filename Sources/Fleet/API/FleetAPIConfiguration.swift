import KV

/// How a ``FleetAPIResponder`` serves: page size, the version it reports, and what it needs to
/// answer unit status and journal requests (this machine's ID, its agent's inspector, and a client
/// to forward to other machines' fleetds).
public struct FleetAPIConfiguration: Sendable {
    /// Page size of the list endpoints (fleet.conf `token_limit`, default 100); page tokens made for
    /// another size are refused.
    public var tokenLimit: UInt16
    /// Reported as `Server: fleetd/<version>` on every response (fleet: `fleetd/v1.0.0`).
    public var version: String
    /// This machine's ID; status and journal of units scheduled here are answered locally.
    public var localMachineID: String?
    /// Reads status and journal on this machine; nil makes such requests answer 501 here.
    public var inspector: (any LocalUnitInspector)?
    /// Forwards status and journal requests to the fleetd of the machine running the unit (its
    /// `APIURL`); nil makes such requests answer 502.
    public var forwardClient: HTTPClient?
    /// Forwards to machines advertising an `https://` API URL (trusting `api_ca_file`, presenting
    /// this machine's API certificate); nil makes such requests answer 502.
    public var forwardTLSClient: HTTPClient?
    /// Bound on a forwarded request (for a followed journal: on connecting and the response head).
    public var forwardTimeout: Double

    public init(
        tokenLimit: UInt16 = 100, version: String = "v" + FleetModule.version, localMachineID: String? = nil,
        inspector: (any LocalUnitInspector)? = nil, forwardClient: HTTPClient? = nil,
        forwardTLSClient: HTTPClient? = nil, forwardTimeout: Double = 10
    ) {
        self.tokenLimit = max(1, tokenLimit)
        self.version = version
        self.localMachineID = localMachineID
        self.inspector = inspector
        self.forwardClient = forwardClient
        self.forwardTLSClient = forwardTLSClient
        self.forwardTimeout = forwardTimeout
    }
}

extension FleetAPIConfiguration {
    /// fleetd's API: fleet.conf's `token_limit`, this machine's ID, its systemd and journal for status
    /// and journal requests, and forwarding to the other machines' fleetds.
    public init(config: FleetConfig, machine: MachineState, bus: BusAddress = .automatic,
                forwardClient: HTTPClient = HTTPClient(), forwardTLSClient: HTTPClient? = nil) {
        self.init(
            tokenLimit: UInt16(clamping: config.tokenLimit), localMachineID: machine.id,
            inspector: SystemdUnitInspector(machineID: machine.id, address: bus), forwardClient: forwardClient,
            forwardTLSClient: forwardTLSClient)
    }
}
