import Synchronization

/// Counters the API server keeps and serves at `GET /metrics` in Prometheus' text format.
///
/// Only what this server actually measures is exported: the registry operations it performs (under
/// fleet's metric names `fleet_registry_operation_*`, labelled by operation) and the requests it
/// answers. The engine's metrics live with the engine, not here.
public final class APIMetrics: Sendable {
    private struct Operation {
        var count = 0
        var failed = 0
        var seconds = 0.0
    }

    private struct RequestKey: Hashable, Comparable {
        var method: String
        var route: String
        var code: Int
        static func < (a: RequestKey, b: RequestKey) -> Bool {
            (a.route, a.method, a.code) < (b.route, b.method, b.code)
        }
    }

    private struct State {
        var operations: [String: Operation] = [:]
        var requests: [RequestKey: Int] = [:]
        var requestSeconds: [String: (count: Int, seconds: Double)] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Records one registry operation (`operation` is a fixed name such as `list_units`).
    public func recordRegistry(_ operation: String, seconds: Double, failed: Bool) {
        state.withLock { s in
            s.operations[operation, default: Operation()].count += 1
            if failed { s.operations[operation, default: Operation()].failed += 1 }
            s.operations[operation, default: Operation()].seconds += seconds
        }
    }

    /// Records one answered request.
    public func recordRequest(method: String, route: String, code: Int, seconds: Double) {
        state.withLock { s in
            s.requests[RequestKey(method: method, route: route, code: code), default: 0] += 1
            s.requestSeconds[route, default: (0, 0)].count += 1
            s.requestSeconds[route, default: (0, 0)].seconds += seconds
        }
    }

    /// How many times `operation` ran (for tests and logs).
    public func registryCount(_ operation: String) -> Int { state.withLock { $0.operations[operation]?.count ?? 0 } }

    /// The Prometheus text exposition (format 0.0.4).
    public func prometheusText() -> String {
        let s = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        let ops = s.operations.keys.sorted()
        family("fleet_registry_operation_count_total", "counter", "Registry operations performed by the API server.")
        for op in ops { out += "fleet_registry_operation_count_total{operation=\"\(op)\"} \(s.operations[op]!.count)\n" }
        family("fleet_registry_operation_failed_count_total", "counter", "Registry operations that failed.")
        for op in ops { out += "fleet_registry_operation_failed_count_total{operation=\"\(op)\"} \(s.operations[op]!.failed)\n" }
        family("fleet_registry_operation_duration_second", "summary", "Time spent in registry operations.")
        for op in ops {
            out += "fleet_registry_operation_duration_second_sum{operation=\"\(op)\"} \(s.operations[op]!.seconds)\n"
            out += "fleet_registry_operation_duration_second_count{operation=\"\(op)\"} \(s.operations[op]!.count)\n"
        }
        family("fleet_api_request_count_total", "counter", "HTTP requests answered, by route, method and status.")
        for key in s.requests.keys.sorted() {
            out += "fleet_api_request_count_total{route=\"\(key.route)\",method=\"\(key.method)\",code=\"\(key.code)\"} \(s.requests[key]!)\n"
        }
        family("fleet_api_request_duration_second", "summary", "Time spent answering requests, by route.")
        for route in s.requestSeconds.keys.sorted() {
            let (count, seconds) = s.requestSeconds[route]!
            out += "fleet_api_request_duration_second_sum{route=\"\(route)\"} \(seconds)\n"
            out += "fleet_api_request_duration_second_count{route=\"\(route)\"} \(count)\n"
        }
        return out
    }
}
