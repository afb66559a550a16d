/// One node of the key tree: a file (value) or a directory (children).
///
/// A reference type so that in-place updates deep in the tree are O(depth). Nodes never leave the
/// store's lock; everything handed out is a `NodeView` value.
final class Node {
    let path: String
    var createdIndex: UInt64
    var modifiedIndex: UInt64
    /// File value; always "" for directories.
    var value: String
    /// Children by name; `nil` for files.
    var children: [String: Node]?
    /// Absolute expiry in Unix nanoseconds; `nil` means permanent.
    var expireTime: Int64?

    init(path: String, createdIndex: UInt64, modifiedIndex: UInt64, value: String, isDir: Bool,
         expireTime: Int64?) {
        self.path = path
        self.createdIndex = createdIndex
        self.modifiedIndex = modifiedIndex
        self.value = value
        self.children = isDir ? [:] : nil
        self.expireTime = expireTime
    }

    var isDir: Bool { children != nil }
    var name: Substring {
        guard let slash = path.lastIndex(of: "/") else { return Substring(path) }
        return path[path.index(after: slash)...]
    }
    /// Hidden nodes (name starting with `_`) are left out of listings.
    var isHidden: Bool { name.first == "_" }

    /// Children sorted by name: the deterministic order used for listings, snapshots and hashes.
    var sortedChildren: [Node] {
        guard let children else { return [] }
        return children.keys.sorted().map { children[$0]! }
    }

    /// The node as clients see it. `recursive` lists the whole subtree, otherwise directories show
    /// no children (used for `prevNode` and nested entries of a one-level listing).
    /// Listings are always sorted by key: etcd's unsorted order is Go map order (random), so a sorted
    /// answer is one of the orders etcd may give, and it keeps members and tests deterministic.
    func view(recursive: Bool, now: Int64) -> NodeView {
        var v = NodeView(key: path, modifiedIndex: modifiedIndex, createdIndex: createdIndex)
        if isDir {
            v.dir = true
            if recursive { v.nodes = listing(recursive: true, now: now) }
        } else {
            v.value = value
        }
        (v.expiration, v.ttl) = TTL.expirationAndTTL(expireTime, now: now)
        return v
    }

    /// Visible children as views (one level unless `recursive`), hidden ones omitted.
    func listing(recursive: Bool, now: Int64) -> [NodeView] {
        // By the children's names (the dictionary's keys): deriving each name from its path again
        // was a tenth of an idle fleet engine's CPU (its periodic full read lists 40,000 nodes).
        guard let children else { return [] }
        return children.sorted { $0.key < $1.key }.compactMap { name, child in
            name.first == "_" ? nil : child.view(recursive: recursive, now: now)
        }
    }
}

/// A node as returned to clients (etcd's `NodeExtern`): plain data, safe to keep in the event history
/// and to hand to other tasks.
///
/// JSON field order is `key, value, dir, expiration, ttl, nodes, modifiedIndex, createdIndex`; empty
/// fields are omitted (see `V2JSON`).
public struct NodeView: Sendable, Hashable {
    /// Absolute internal path (e.g. `/1/message`); the HTTP layer trims the `/1` prefix when encoding.
    public var key: String
    /// File value (`nil` for directories and for deleted/expired nodes in `node`).
    public var value: String?
    public var dir: Bool
    /// Expiry in Unix nanoseconds, present only on nodes with a TTL.
    public var expiration: Int64?
    /// Remaining seconds (rounded up) at the time the view was made; 0 is omitted.
    public var ttl: Int64
    /// Children for directory listings; `nil` or empty means "no `nodes` field".
    public var nodes: [NodeView]?
    public var modifiedIndex: UInt64
    public var createdIndex: UInt64

    public init(key: String, value: String? = nil, dir: Bool = false, expiration: Int64? = nil,
                ttl: Int64 = 0, nodes: [NodeView]? = nil, modifiedIndex: UInt64 = 0,
                createdIndex: UInt64 = 0) {
        self.key = key
        self.value = value
        self.dir = dir
        self.expiration = expiration
        self.ttl = ttl
        self.nodes = nodes
        self.modifiedIndex = modifiedIndex
        self.createdIndex = createdIndex
    }
}
