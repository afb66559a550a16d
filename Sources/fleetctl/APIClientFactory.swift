import Fleet

/// The one place that builds the HTTP client for fleetd's API from --endpoint and --request-timeout.
enum APIClientFactory {
    static func make(endpoints: [String], requestTimeout: Double) throws(CLIError) -> any FleetAPI {
        do {
            return try FleetAPIClient(endpoints: endpoints, requestTimeout: requestTimeout)
        } catch {
            throw .usage("\(error)")
        }
    }
}
