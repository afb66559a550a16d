import KV
import NIOCore
import NIOHTTP1

/// ``FleetAPI`` over HTTP: fleet's API v1 (fleetd's or fleet's own) plus our unit status and journal.
///
/// Endpoints are tried in order; only a failure to connect moves on to the next, so a request is
/// never applied twice. Lists follow `nextPageToken` to the end. `https://` endpoints are dialled
/// with TLS (fleetctl's --ca-file, --cert-file, --key-file).
public struct FleetAPIClient: FleetAPI {
    let endpoints: [APIEndpoint]
    /// Bound on each request (fleetctl `--request-timeout`, default 3 s); for a followed journal, on
    /// getting the response head.
    public let requestTimeout: Double
    let http: HTTPClient
    /// Dials the `https://` endpoints; nil when there is none.
    let https: HTTPClient?

    /// Pages followed at most per listing (fleet's page number is 16 bits).
    static let maxPages = Int(UInt16.max)

    /// `tls` is used for `https://` endpoints: their certificate must chain to `tls.caFile` (else the
    /// system roots); `tls.certFile`/`keyFile` are presented when the server asks (mutual TLS).
    public init(endpoints: [String], requestTimeout: Double = 3, client: HTTPClient = HTTPClient(),
                tls: TLSFiles = TLSFiles()) throws(FleetAPIError)
    {
        guard !endpoints.isEmpty else { throw .invalidEndpoint("") }
        var parsed: [APIEndpoint] = []
        for url in endpoints { parsed.append(try APIEndpoint(url)) }
        self.endpoints = parsed
        self.requestTimeout = requestTimeout
        self.http = client
        if parsed.contains(where: \.tls) {
            do { self.https = HTTPClient(tls: try tls.clientContext()) } catch { throw .tls("\(error)") }
        } else {
            self.https = nil
        }
    }

    /// Splits fleetctl's `--endpoint` value (comma-separated) into endpoints.
    public init(endpointList: String, requestTimeout: Double = 3, client: HTTPClient = HTTPClient(),
                tls: TLSFiles = TLSFiles()) throws(FleetAPIError)
    {
        let urls = endpointList.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        try self.init(endpoints: urls, requestTimeout: requestTimeout, client: client, tls: tls)
    }

    public func machines() async throws(FleetAPIError) -> [APIMachine] {
        try await allPages("machines", [], of: APIMachine.self).sorted { $0.id < $1.id }
    }

    public func units() async throws(FleetAPIError) -> [APIUnit] {
        try await allPages("units", [], of: APIUnit.self).sorted { $0.name < $1.name }
    }

    public func unit(_ name: String) async throws(FleetAPIError) -> APIUnit? {
        do throws(FleetAPIError) {
            let answer = try await call(.GET, Self.uri(Self.unitPath(name)), notFound: "unit \(name) does not exist")
            return try decode(APIUnit.self, answer)
        } catch .notFound {
            return nil
        }
    }

    public func createUnit(_ unit: APIUnit) async throws(FleetAPIError) {
        var body = unit
        body.currentState = nil
        body.machineID = nil
        _ = try await call(.PUT, Self.uri(Self.unitPath(unit.name)), json: APIJSON.encode(body),
                           notFound: "unit \(unit.name) does not exist")
    }

    public func setDesiredState(_ name: String, to state: String) async throws(FleetAPIError) {
        let body = APIUnit(name: name, options: [], desiredState: state)
        do throws(FleetAPIError) {
            _ = try await call(.PUT, Self.uri(Self.unitPath(name)), json: APIJSON.encode(body),
                               notFound: "unit \(name) does not exist")
        } catch .server(409, let message) where message.contains("does not exist") {
            throw .notFound("unit \(name) does not exist")
        }
    }

    public func destroyUnit(_ name: String) async throws(FleetAPIError) {
        _ = try await call(.DELETE, Self.uri(Self.unitPath(name)), notFound: "unit \(name) does not exist")
    }

    public func unitStates(machineID: String?, unitName: String?) async throws(FleetAPIError) -> [APIUnitState] {
        try await allPages("state", [("machineID", machineID), ("unitName", unitName)], of: APIUnitState.self)
            .sorted { ($0.name, $0.machineID) < ($1.name, $1.machineID) }
    }

    public func patchMachineMetadata(_ ops: [APIMachineMetadataOp]) async throws(FleetAPIError) {
        _ = try await call(.PATCH, Self.uri("machines"), json: APIJSON.encode(ops), notFound: "machine does not exist")
    }

    public func unitStatus(_ name: String, machineID: String?) async throws(FleetAPIError) -> String {
        let answer = try await call(
            .GET, Self.uri(Self.unitPath(name, "/status"), [("machineID", machineID)]),
            notFound: "unit \(name) does not exist")
        return answer.response.bodyString
    }

    /// Follows `nextPageToken` until a page comes without one.
    private func allPages<Item: Codable & Sendable>(
        _ path: String, _ query: [(String, String?)], of: Item.Type
    ) async throws(FleetAPIError) -> [Item] {
        var items: [Item] = []
        var token: String?
        for _ in 0..<Self.maxPages {
            let answer = try await call(.GET, Self.uri(path, query + [("nextPageToken", token)]),
                                        notFound: "\(path) not found")
            let page = try decode(APIPage<Item>.self, answer)
            items += page.items
            guard let next = page.nextPageToken, !next.isEmpty else { return items }
            guard next != token else {
                throw .badResponse(endpoint: answer.endpoint, reason: "page token \(next) repeats itself")
            }
            token = next
        }
        throw .badResponse(endpoint: endpoints[0].url, reason: "more than \(Self.maxPages) pages of \(path)")
    }
}
