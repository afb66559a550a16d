import NIOCore
import TestSupport
@testable import KV

/// Read-only looks at the members of a `KVMachineCluster`: who leads, member IDs, store hashes.
/// Every request is short and bounded; a member that does not answer counts as "no answer".
struct ClusterProbe: Sendable {
    let cluster: KVMachineCluster
    let client: HTTPClient

    /// Member `i`'s view: its own ID, whether it leads, and the leader it follows.
    struct SelfStats: Sendable { var id: String; var isLeader: Bool; var leader: String }

    func selfStats(_ i: Int, timeout: Double = 0.5) async -> SelfStats? {
        guard let r = try? await client.execute(.GET, cluster.endpoint(i), "/v2/stats/self", timeout: timeout),
              r.status == .ok, let json = MiniJSON.parse(r.bodyString),
              let id = json["id"]?.stringValue else { return nil }
        return SelfStats(id: id, isLeader: json["state"]?.stringValue == "StateLeader",
                         leader: json["leaderInfo"]?["leader"]?.stringValue ?? "")
    }

    /// The machine index of a member that says it leads, among `candidates`.
    func leader(among candidates: [Int]) async -> Int? {
        for i in candidates {
            if let s = await selfStats(i), s.isLeader { return i }
        }
        return nil
    }

    /// True when every member in `members` answers and all follow the same leader, which is one of them
    /// and says so itself.
    func agreeOnLeader(_ members: [Int]) async -> Bool {
        var stats: [Int: SelfStats] = [:]
        for i in members {
            guard let s = await selfStats(i) else { return false }
            stats[i] = s
        }
        let leaders = Set(stats.values.map(\.leader))
        guard leaders.count == 1, let l = leaders.first,
              let leaderStats = stats.values.first(where: { $0.id == l }) else { return false }
        return leaderStats.isLeader
    }

    /// The member ID (hex) of the member with `peerURL`, asking member `via`.
    func memberID(peerURL: String, via: Int) async -> String? {
        guard let r = try? await client.execute(.GET, cluster.endpoint(via), "/v2/members", timeout: 2),
              r.status == .ok, let list = MiniJSON.parse(r.bodyString)?["members"]?.arrayValue else { return nil }
        return list.first { ($0["peerURLs"]?.arrayValue ?? []).contains(.string(peerURL)) }?["id"]?.stringValue
    }

    /// `/debug/store-hash` of member `i`.
    func storeHash(_ i: Int) async -> (index: UInt64, hash: String)? {
        guard let r = try? await client.execute(.GET, cluster.endpoint(i), "/debug/store-hash", timeout: 2),
              r.status == .ok, let json = MiniJSON.parse(r.bodyString),
              let index = json["index"]?.numberValue, let hash = json["hash"]?.stringValue else { return nil }
        return (UInt64(index), hash)
    }
}
