/// What a fleet client can ask of the cluster: the operations of fleet's HTTP API v1 plus the
/// status and journal of a unit, which fleet could only reach over SSH.
///
/// fleetctl is written against this protocol, so its commands are tested against an in-memory
/// fake and run for real over HTTP (`FleetAPIClient`) without change.
public protocol FleetAPI: Sendable {
    /// Every machine (all pages), sorted by ID.
    func machines() async throws(FleetAPIError) -> [APIMachine]
    /// Every unit (all pages), sorted by name.
    func units() async throws(FleetAPIError) -> [APIUnit]
    /// One unit, or nil if there is none by that name.
    func unit(_ name: String) async throws(FleetAPIError) -> APIUnit?
    /// Creates a unit (options and desired state) or replaces it when its options differ
    /// (`PUT /fleet/v1/units/<name>` with options).
    func createUnit(_ unit: APIUnit) async throws(FleetAPIError)
    /// Changes only the desired state of an existing unit (`PUT` without options).
    func setDesiredState(_ name: String, to state: String) async throws(FleetAPIError)
    /// Deletes a unit (`DELETE /fleet/v1/units/<name>`); `.notFound` if there was none.
    func destroyUnit(_ name: String) async throws(FleetAPIError)
    /// systemd states per (unit, machine), sorted by unit name then machine ID; filters are optional.
    func unitStates(machineID: String?, unitName: String?) async throws(FleetAPIError) -> [APIUnitState]
    /// `PATCH /fleet/v1/machines`.
    func patchMachineMetadata(_ ops: [APIMachineMetadataOp]) async throws(FleetAPIError)
    /// `systemctl status`-like text of a unit on the machine that runs it (or on `machineID`,
    /// required for a global unit), served by that machine's agent through any fleetd.
    func unitStatus(_ name: String, machineID: String?) async throws(FleetAPIError) -> String
    /// Journal lines of a unit on the machine that runs it (or `machineID`): the last `lines`
    /// lines, then, if `follow`, new lines as they are written until the stream is dropped.
    func journal(_ name: String, machineID: String?, lines: Int, follow: Bool)
        async throws(FleetAPIError) -> AsyncThrowingStream<String, any Error>
}

/// Why an API call failed, phrased for the user of fleetctl.
public enum FleetAPIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The server answered with fleet's error JSON (or an unexpected status).
    case server(status: Int, message: String)
    /// The named thing does not exist (404).
    case notFound(String)
    /// No endpoint could be reached; `endpoint` and the cause.
    case unreachable(endpoint: String, reason: String)
    /// The request did not complete within the request timeout.
    case timedOut(endpoint: String, seconds: Double)
    /// The answer could not be understood.
    case badResponse(endpoint: String, reason: String)
    /// The endpoint URL itself is unusable.
    case invalidEndpoint(String)
    /// TLS files (--ca-file, --cert-file, --key-file) that cannot be used.
    case tls(String)

    public var description: String {
        switch self {
        case .server(let status, let message):
            return message.isEmpty ? "server answered HTTP \(status)" : "\(message) (HTTP \(status))"
        case .notFound(let what): return what
        case .unreachable(let endpoint, let reason): return "cannot reach fleet API at \(endpoint): \(reason)"
        case .timedOut(let endpoint, let seconds):
            return "fleet API at \(endpoint) did not answer within \(seconds) s (--request-timeout)"
        case .badResponse(let endpoint, let reason): return "unexpected answer from \(endpoint): \(reason)"
        case .invalidEndpoint(let url):
            return "invalid endpoint \"\(url)\": expected unix:///path, http://host:port or https://host:port"
        case .tls(let reason): return reason
        }
    }
}
