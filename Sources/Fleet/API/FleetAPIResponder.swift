import KV
import NIOCore
import NIOHTTP1

/// fleet's HTTP API v1 over the ``Registry``, wire-compatible with fleet v1.0.0 (mounted at
/// `/fleet/v1` and `/v1-alpha`, fleet's JSON, page tokens and status codes), plus what fleet lacked:
/// unit status and journal served by the agent running the unit, server-side template instances,
/// and validation of `desiredState`.
///
/// Serve it with KV's ``HTTPServer`` on any listener (unix socket, TCP, socket-activated fd):
///
///     let api = FleetAPIResponder(registry: registry, configuration: FleetAPIConfiguration(...))
///     let server = try await HTTPServer.start(address: .unix(path: "/var/run/fleet.sock"), responder: api)
public struct FleetAPIResponder: HTTPResponder {
    public let registry: Registry
    public let configuration: FleetAPIConfiguration
    /// What this server measured, served at `/metrics`.
    public let metrics: APIMetrics

    /// Header a fleetd sets when it forwards a status or journal request to another machine's fleetd;
    /// its value is the forwarding machine's ID. A request carrying it is never forwarded again.
    public static let forwardedHeader = "X-Fleet-Forwarded-By"

    public init(registry: Registry, configuration: FleetAPIConfiguration = FleetAPIConfiguration(),
                metrics: APIMetrics = APIMetrics()) {
        self.registry = registry
        self.configuration = configuration
        self.metrics = metrics
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let started = ContinuousClock.now
        let route = APIRoute(path: request.path)
        var response: HTTPResponse
        do {
            response = try await handle(route, request)
        } catch {
            response = APIJSON.response(for: error)
        }
        response.headers.replaceOrAdd(name: "Server", value: "fleetd/\(configuration.version)")
        metrics.recordRequest(method: request.method.rawValue, route: route.label, code: Int(response.status.code),
                              seconds: (ContinuousClock.now - started).seconds)
        return response
    }

    private func handle(_ route: APIRoute, _ request: HTTPRequest) async throws(APIServerError) -> HTTPResponse {
        let method = request.method
        switch route {
        case .root, .mount:
            throw .methodNotAllowed("no resource at \(request.path); the API lives under /fleet/v1")
        case .notFound:
            throw .notFound("no such API resource: \(request.path)")
        case .metrics:
            try allow(method, [.GET], "/metrics")
            return HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4", text: metrics.prometheusText())
        case .discovery:
            try allow(method, [.GET], "the discovery document")
            return HTTPResponse(status: .ok, contentType: "application/json", text: APIDiscoveryDocument.json)
        case .machines:
            switch method {
            case .GET: return try await listMachines(request)
            case .PATCH: return try await patchMachines(request)
            default: throw .methodNotAllowed("only GET and PATCH supported against this resource")
            }
        case .units:
            try allow(method, [.GET], "this resource")
            return try await listUnits(request)
        case .unit(let name):
            switch method {
            case .GET: return try await getUnit(name)
            case .PUT: return try await putUnit(name, request)
            case .DELETE: return try await destroyUnit(name)
            default: throw .methodNotAllowed("only GET, PUT and DELETE supported against this resource")
            }
        case .states:
            try allow(method, [.GET], "this resource")
            return try await listStates(request)
        case .state(let name):
            try allow(method, [.GET], "this resource")
            return try await getState(name)
        case .unitStatus(let name):
            try allow(method, [.GET], "this resource")
            return try await inspect(name, .status, request)
        case .unitJournal(let name):
            try allow(method, [.GET], "this resource")
            return try await inspect(name, .journal, request)
        }
    }

    private func allow(_ method: HTTPMethod, _ allowed: [HTTPMethod], _ what: String) throws(APIServerError) {
        guard allowed.contains(method) else {
            throw .methodNotAllowed("only \(allowed.map(\.rawValue).joined(separator: ", ")) supported against \(what)")
        }
    }

    /// Runs one registry operation, timing it for `/metrics` and mapping its failure to an answer.
    func registryCall<T>(_ operation: String, _ body: () async throws(RegistryError) -> T)
        async throws(APIServerError) -> T
    {
        let started = ContinuousClock.now
        do {
            let value = try await body()
            metrics.recordRegistry(operation, seconds: (ContinuousClock.now - started).seconds, failed: false)
            return value
        } catch {
            metrics.recordRegistry(operation, seconds: (ContinuousClock.now - started).seconds, failed: true)
            throw .registry(error)
        }
    }

    /// The query parameters, or 400 when an escape is malformed.
    func query(_ request: HTTPRequest) throws(APIServerError) -> [(name: String, value: String)] {
        do { return try request.queryItems() } catch { throw .badRequest(error.description) }
    }

    /// The page asked for by `nextPageToken`, or 400.
    func pageToken(_ request: HTTPRequest) throws(APIServerError) -> APIPageToken {
        let items = try query(request)
        do { return try APIPageToken.from(query: items, limit: configuration.tokenLimit) } catch {
            throw .badRequest(error.description)
        }
    }
}

extension Duration {
    /// The duration in seconds, for metrics.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
