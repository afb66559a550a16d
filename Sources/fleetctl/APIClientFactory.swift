import Fleet
import KV

/// The one place that builds the HTTP client for fleetd's API from --endpoint, --request-timeout
/// and the TLS files.
enum APIClientFactory {
    static func make(endpoints: [String], requestTimeout: Double, tls: TLSFiles) throws(CLIError) -> any FleetAPI {
        do {
            return try FleetAPIClient(endpoints: endpoints, requestTimeout: requestTimeout, tls: tls)
        } catch {
            throw .usage("\(error)")
        }
    }
}
