import KV

/// Finds which client URL of a cluster belongs to the Raft leader.
///
/// Why: a sequential PUT sent to a follower makes one more hop (the follower forwards the
/// proposal to the leader) than one sent to the leader. Which member wins the election differs
/// between runs and between our cluster and etcd's, so a latency measured on "the first URL"
/// compared a leader with a follower in some runs and not in others. The sequential run therefore
/// measures the leader and a follower of each cluster separately.
enum LeaderLookup {
    /// Why the leader could not be found.
    enum Failure: Error, CustomStringConvertible {
        case noLeader(endpoints: [String], seconds: Double)

        var description: String {
            switch self {
            case .noLeader(let endpoints, let seconds):
                return "no member of \(endpoints.joined(separator: ",")) reported \"StateLeader\" in /v2/stats/self "
                    + "within \(seconds) s; is the cluster healthy?"
            }
        }
    }

    /// The index in `endpoints` of the member whose `/v2/stats/self` says `StateLeader` (etcd's
    /// and ours say it the same way), asking again for up to `seconds` while an election runs.
    static func leaderIndex(_ endpoints: [(host: String, port: Int)], seconds: Double = 10) async throws -> Int {
        if endpoints.count == 1 { return 0 }
        let client = HTTPClient()
        defer { client.shutdown() }
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            for (i, e) in endpoints.enumerated() {
                let r = try? await client.execute(.GET, .tcp(host: e.host, port: e.port), "/v2/stats/self", timeout: 2)
                if let r, r.status == .ok, r.bodyString.contains("\"state\":\"StateLeader\"") { return i }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw Failure.noLeader(endpoints: endpoints.map { "\($0.host):\($0.port)" }, seconds: seconds)
    }
}
