import Fleet

/// The one place that builds the HTTP client for fleetd's API from --endpoint and --request-timeout.
enum APIClientFactory {
    static func make(endpoints: [String], requestTimeout: Duration) throws(CLIError) -> any FleetAPI {
        // ADAPTER POINT: until FleetAPIClient (Sources/Fleet/API, written in parallel) is merged,
        // there is no client to build; every call reports the endpoint as unreachable.
        PendingClient(endpoint: endpoints[0])
    }
}

/// Placeholder until the HTTP client lands: answers every call with `.unreachable`.
private struct PendingClient: FleetAPI {
    let endpoint: String
    var error: FleetAPIError { .unreachable(endpoint: endpoint, reason: "this build has no HTTP API client yet") }
    func machines() async throws(FleetAPIError) -> [APIMachine] { throw error }
    func units() async throws(FleetAPIError) -> [APIUnit] { throw error }
    func unit(_ name: String) async throws(FleetAPIError) -> APIUnit? { throw error }
    func createUnit(_ unit: APIUnit) async throws(FleetAPIError) { throw error }
    func setDesiredState(_ name: String, to state: String) async throws(FleetAPIError) { throw error }
    func destroyUnit(_ name: String) async throws(FleetAPIError) { throw error }
    func unitStates(machineID: String?, unitName: String?) async throws(FleetAPIError) -> [APIUnitState] { throw error }
    func patchMachineMetadata(_ ops: [APIMachineMetadataOp]) async throws(FleetAPIError) { throw error }
    func unitStatus(_ name: String, machineID: String?) async throws(FleetAPIError) -> String { throw error }
    func journal(_ name: String, machineID: String?, lines: Int, follow: Bool)
        async throws(FleetAPIError) -> AsyncThrowingStream<String, any Error> { throw error }
}
