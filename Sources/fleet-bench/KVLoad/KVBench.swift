import ArgumentParser
import KV
import NIOCore
import NIOHTTP1
import NIOPosix

/// `fleet-bench kv`: load against etcd-v2-compatible stores, ours and real etcd side by side.
///
/// Each `--target NAME=URL[,URL...]` is measured with the same load in the same run; with two
/// targets the table ends with the ratio first/second for every figure.
struct KVBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv",
        abstract: "PUT/s, quorum GET/s, GET/s, sequential PUT latency and watch fan-out against v2 stores."
    )

    @Option(name: .customLong("target"), help: "NAME=URL[,URL...] (client URLs of one cluster); repeatable.")
    var targets: [String] = []

    @Option(help: "Concurrent keep-alive connections for the throughput runs.")
    var connections = 64

    @Option(help: "Seconds per throughput run.")
    var seconds = 10.0

    @Option(help: "Number of distinct keys.")
    var keys = 1000

    @Option(help: "Value size in bytes.")
    var valueSize = 256

    @Option(help: "Sequential PUTs for the latency run.")
    var sequential = 2000

    @Option(help: "Watchers for the fan-out run.")
    var watchers = 256

    @Option(help: "Events for the fan-out run.")
    var events = 100

    @Option(help: "Requests per throughput run (fixed count, spread over the connections); 0 = run for --seconds.")
    var requests = 0

    @Option(name: .customLong("cpu-pids"),
            help: "NAME=PID[,PID...]: the server processes of target NAME; adds CPU ms per 1,000 operations (repeatable).")
    var cpuPids: [String] = []

    @Option(help: "Comma-separated runs: put,qget,get,seq,watch (the keys are always filled first; \"fill\" alone only fills).")
    var runs = "put,qget,get,seq,watch"

    @Option(help: "Event loop threads of the load generator.")
    var generatorThreads = 1

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: generatorThreads)
        // Not shut down: the process ends with the run.
        let parsed = try targets.map(Target.parse)
        guard !parsed.isEmpty else { throw ValidationError("give at least one --target NAME=URL") }
        let cpuByName = Dictionary(try cpuPids.map(ProcessCPU.parse), uniquingKeysWith: { a, _ in a })
        /// CPU ms per 1,000 operations of the target's processes while `body` ran (nan without --cpu-pids).
        func cpuPer1000<T>(_ t: Target, _ body: () async throws -> (T, Int)) async rethrows -> (T, Double) {
            let before = cpuByName[t.name]?.seconds()
            let (result, ops) = try await body()
            guard let before, let after = cpuByName[t.name]?.seconds(), ops > 0 else { return (result, .nan) }
            return (result, (after - before) * 1e3 / Double(ops) * 1000)
        }
        let selected = Set(runs.split(separator: ",").map(String.init))
        let value = String(repeating: "v", count: valueSize)
        let putBody = ByteBuffer(string: "value=" + value)
        var table: [(run: String, figure: String, values: [Double], higherIsBetter: Bool)] = []

        func record(_ run: String, _ figure: String, _ v: [Double], higherIsBetter: Bool) {
            table.append((run, figure, v, higherIsBetter))
        }

        print("fleet-bench kv: \(connections) connections, \(keys) keys, \(valueSize)-byte values, "
            + (requests > 0 ? "\(requests) requests per throughput run" : "\(seconds) s per run"))
        // Fill every key first so reads hit.
        for t in parsed {
            let fillers = min(connections, keys)
            _ = try await ClosedLoopLoad.run(group: group, endpoints: t.endpoints, connections: fillers, seconds: 900,
                                             maxRequests: (keys + fillers - 1) / fillers, requestCount: keys,
                                             build: { k, host in LoadRequest(method: .PUT, uri: "/v2/keys/bench/k\(k)", body: putBody, host: host) },
                                             pick: { c, n in (n * fillers + c) % keys })
        }
        let throughputRuns: [(String, String, HTTPMethod, Bool)] = [
            ("put", "PUT", .PUT, true), ("qget", "quorum GET", .GET, true), ("get", "GET", .GET, false),
        ]
        for (key, label, method, _) in throughputRuns where selected.contains(key) {
            var rates: [Double] = [], p50s: [Double] = [], p99s: [Double] = [], cpus: [Double] = []
            let perConnection = requests > 0 ? max(1, requests / connections) : Int.max
            for t in parsed {
                let generatorBefore = ProcessUsage.cpuSeconds()
                let ((sample, elapsed), cpu) = try await cpuPer1000(t) {
                    let r = try await ClosedLoopLoad.run(group: group, endpoints: t.endpoints, connections: connections,
                                                         seconds: requests > 0 ? 900 : seconds,
                                                         maxRequests: perConnection, requestCount: keys,
                                                         build: { k, host in
                        switch key {
                        case "put": return LoadRequest(method: method, uri: "/v2/keys/bench/k\(k)", body: putBody, host: host)
                        case "qget": return LoadRequest(method: method, uri: "/v2/keys/bench/k\(k)?quorum=true", host: host)
                        default: return LoadRequest(method: method, uri: "/v2/keys/bench/k\(k)", host: host)
                        }
                    }, pick: { c, n in (c &* 7919 &+ n &* 104729) % keys })
                    return (r, r.0.latencies.count)
                }
                let s = LatencySummary(sample.latencies)
                // The generator's own CPU per operation: it shares the cores with the servers.
                let generator = (ProcessUsage.cpuSeconds() - generatorBefore) * 1e6 / Double(max(s.count, 1))
                rates.append(Double(s.count) / elapsed)
                p50s.append(s.p50)
                p99s.append(s.p99)
                cpus.append(cpu)
                print("  \(t.name) \(label): \(fmt(Double(s.count) / elapsed, 0)) ops/s, \(s), failures \(sample.failures)"
                      + (cpu.isNaN ? "" : ", server CPU \(fmt(cpu, 1)) ms/1000 ops")
                      + ", generator CPU \(fmt(generator, 1)) ms/1000 ops"
                      + (sample.firstFailure.map { " (first: \($0))" } ?? ""))
            }
            record(label, "ops/s", rates, higherIsBetter: true)
            record(label, "p50 ms", p50s, higherIsBetter: false)
            record(label, "p99 ms", p99s, higherIsBetter: false)
            if !cpuByName.isEmpty { record(label, "CPU ms/1000 ops", cpus, higherIsBetter: false) }
        }
        if selected.contains("seq") {
            // With several members, the leader and a follower are measured apart (a follower
            // forwards the proposal: one more hop); see `LeaderLookup`.
            let clustered = parsed.contains { $0.endpoints.count > 1 }
            for role in clustered ? ["leader", "follower"] : [""] {
                let label = role.isEmpty ? "sequential PUT" : "sequential PUT (\(role))"
                var p50s: [Double] = [], p99s: [Double] = [], cpus: [Double] = []
                for t in parsed {
                    let leader = try await LeaderLookup.leaderIndex(t.endpoints)
                    let member = role == "follower" ? (leader + 1) % t.endpoints.count : leader
                    let (sample, cpu) = try await cpuPer1000(t) {
                        let (sample, _) = try await ClosedLoopLoad.run(group: group, endpoints: [t.endpoints[member]], connections: 1,
                                                                       seconds: 120, maxRequests: sequential, requestCount: keys,
                                                                       build: { k, host in
                            LoadRequest(method: .PUT, uri: "/v2/keys/bench/k\(k)", body: putBody, host: host)
                        }, pick: { _, n in n % keys })
                        return (sample, sample.latencies.count)
                    }
                    let s = LatencySummary(sample.latencies)
                    p50s.append(s.p50)
                    p99s.append(s.p99)
                    cpus.append(cpu)
                    print("  \(t.name) \(label): \(s), failures \(sample.failures)"
                          + (cpu.isNaN ? "" : ", server CPU \(fmt(cpu, 1)) ms/1000 ops"))
                }
                record(label, "p50 ms", p50s, higherIsBetter: false)
                record(label, "p99 ms", p99s, higherIsBetter: false)
                if !cpuByName.isEmpty { record(label, "CPU ms/1000 ops", cpus, higherIsBetter: false) }
            }
        }
        if selected.contains("watch") {
            var rates: [Double] = [], p50s: [Double] = [], p99s: [Double] = []
            for t in parsed {
                let result = try await WatchFanOut.run(endpoints: t.endpoints, watchers: watchers, events: events, value: value)
                rates.append(result.deliveriesPerSecond)
                p50s.append(result.latency.p50)
                p99s.append(result.latency.p99)
                print("  \(t.name) watch fan-out: \(watchers) watchers x \(events) events, "
                      + "\(fmt(result.deliveriesPerSecond, 0)) deliveries/s, \(result.latency), missed \(result.missed)")
            }
            record("watch fan-out", "deliveries/s", rates, higherIsBetter: true)
            record("watch fan-out", "p50 ms", p50s, higherIsBetter: false)
            record("watch fan-out", "p99 ms", p99s, higherIsBetter: false)
        }

        print("")
        var header = "| run | figure |"
        for t in parsed { header += " \(t.name) |" }
        if parsed.count == 2 { header += " \(parsed[0].name)/\(parsed[1].name) |" }
        print(header)
        print("|" + String(repeating: "---|", count: 2 + parsed.count + (parsed.count == 2 ? 1 : 0)))
        for row in table {
            var line = "| \(row.run) | \(row.figure) |"
            for v in row.values { line += " \(fmt(v, row.figure.hasSuffix("ms") ? 3 : row.figure.hasPrefix("CPU") ? 1 : 0)) |" }
            if row.values.count == 2 { line += " \(fmt(row.values[0] / row.values[1], 2)) |" }
            print(line)
        }
    }
}

/// A named cluster: its client URLs.
struct Target {
    var name: String
    var endpoints: [(host: String, port: Int)]

    static func parse(_ text: String) throws -> Target {
        let parts = text.split(separator: "=", maxSplits: 1)
        guard parts.count == 2 else { throw ValidationError("--target must be NAME=URL[,URL...], got '\(text)'") }
        let endpoints = try parts[1].split(separator: ",").map { url -> (host: String, port: Int) in
            guard case .tcp(let host, let port)? = HTTPEndpoint(url: String(url)) else {
                throw ValidationError("not an http URL: '\(url)'")
            }
            return (host, port)
        }
        return Target(name: String(parts[0]), endpoints: endpoints)
    }
}
