/// Cluster membership as etcd keeps it in the v2 store, under `/0` (unreachable through the
/// keys API): `/0/members/<id>/raftAttributes` `{"peerURLs":[…]}`, `/0/members/<id>/attributes`
/// `{"name":…,"clientURLs":[…]}`, `/0/removed_members/<id>` and `/0/version`.
///
/// Writing membership through the same store makes `/v2/members` consistent on every member and
/// makes a fresh cluster start at etcd's indexes (3 for one member, 7 for three).
public enum MembershipRecords {
    public static let membersDir = "/0/members"
    public static let removedDir = "/0/removed_members"
    public static let versionKey = "/0/version"

    /// A stable member ID from its peer URLs and the cluster token (etcd derives IDs the same way,
    /// with another hash), so the same URLs under another token give another ID.
    public static func memberID(peerURLs: [String], token: String) -> UInt64 {
        var h = FNV1a64()
        for url in peerURLs.sorted() { h.add(url); h.add("\n") }
        h.add(token)
        return h.value == 0 ? 1 : h.value
    }

    /// The cluster ID: a hash of the initial members' IDs.
    public static func clusterID(memberIDs: [UInt64]) -> UInt64 {
        var h = FNV1a64()
        for id in memberIDs.sorted() { h.add(MemberInfo.hex(id)) }
        return h.value == 0 ? 1 : h.value
    }

    public static func raftAttributesKey(_ id: UInt64) -> String { "\(membersDir)/\(MemberInfo.hex(id))/raftAttributes" }
    public static func attributesKey(_ id: UInt64) -> String { "\(membersDir)/\(MemberInfo.hex(id))/attributes" }

    /// The write that adds a member (its peer URLs).
    public static func addOperation(id: UInt64, peerURLs: [String]) -> StoreOperation {
        .create(key: raftAttributesKey(id), value: #"{"peerURLs":"# + jsonArray(peerURLs) + "}", dir: false, ttl: nil,
                inOrder: false)
    }

    /// The write that changes a member's peer URLs.
    public static func updateOperation(id: UInt64, peerURLs: [String]) -> StoreOperation {
        .set(key: raftAttributesKey(id), value: #"{"peerURLs":"# + jsonArray(peerURLs) + "}", dir: false, ttl: nil,
             refresh: false)
    }

    /// The write a started member makes to publish its name and client URLs.
    public static func publishOperation(id: UInt64, name: String, clientURLs: [String]) -> StoreOperation {
        var nameJSON = ""
        V2JSON.appendString(name, to: &nameJSON)
        return .set(key: attributesKey(id), value: #"{"name":"# + nameJSON + #","clientURLs":"# + jsonArray(clientURLs) + "}",
                    dir: false, ttl: nil, refresh: false)
    }

    /// The writes that remove a member and remember the removal.
    public static func removeOperations(id: UInt64) -> [StoreOperation] {
        [.delete(key: "\(membersDir)/\(MemberInfo.hex(id))", dir: true, recursive: true),
         .set(key: "\(removedDir)/\(MemberInfo.hex(id))", value: "removed", dir: false, ttl: nil, refresh: false)]
    }

    public static func versionOperation(_ version: String) -> StoreOperation {
        .set(key: versionKey, value: version, dir: false, ttl: nil, refresh: false)
    }

    /// The members recorded in `store`, sorted by ID.
    public static func members(in store: Store) -> [MemberInfo] {
        guard case .success(let event) = store.get(membersDir, recursive: true, sorted: true, now: 0) else { return [] }
        var result: [MemberInfo] = []
        for dir in event.node.nodes ?? [] {
            guard let id = UInt64(dir.key.split(separator: "/").last ?? "", radix: 16) else { continue }
            var member = MemberInfo(id: id, name: "", peerURLs: [], clientURLs: [])
            for leaf in dir.nodes ?? [] {
                guard let value = leaf.value, let json = MiniJSON.parse(value) else { continue }
                if leaf.key.hasSuffix("/raftAttributes") {
                    member.peerURLs = json["peerURLs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                } else if leaf.key.hasSuffix("/attributes") {
                    member.name = json["name"]?.stringValue ?? ""
                    member.clientURLs = json["clientURLs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                }
            }
            result.append(member)
        }
        return result.sorted { $0.id < $1.id }
    }

    /// Whether `id` was removed from the cluster (it may never come back).
    public static func isRemoved(_ id: UInt64, in store: Store) -> Bool {
        if case .success = store.get("\(removedDir)/\(MemberInfo.hex(id))", now: 0) { return true }
        return false
    }

    static func jsonArray(_ items: [String]) -> String {
        "[" + items.map { s in
            var o = ""
            V2JSON.appendString(s, to: &o)
            return o
        }.joined(separator: ",") + "]"
    }
}

/// 64-bit FNV-1a, for IDs derived from names and URLs.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ s: String) {
        for b in s.utf8 {
            value ^= UInt64(b)
            value &*= 0x100_0000_01b3
        }
    }
}
