/// Binary snapshot of the store state: tree, index and the event history (etcd's v2 snapshot also
/// carries its event history, so watchers with a `waitIndex` keep working after a member restores).
///
/// Layout: magic `KVS2`, version, namespaces, current index, tree (pre-order, children sorted by
/// name), history (oldest first). Everything is written in a fixed order, so equal states give equal
/// bytes and equal `Store.hash()`.
enum StoreSnapshot {
    static let magic: [UInt8] = Array("KVS2".utf8)
    static let version: UInt8 = 1

    static func encode(_ s: StoreCore) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: magic)
        w.u8(version)
        w.u64(UInt64(s.namespaces.count))
        for n in s.namespaces { w.string(n) }
        w.u64(s.currentIndex)
        writeNode(s.root, &w)
        let events = s.history.ordered
        w.u64(UInt64(events.count))
        for e in events { writeEvent(e, &w) }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], into s: inout StoreCore) throws(StoreDecodingError) {
        var r = ByteReader(bytes)
        for m in magic where try r.u8() != m { throw .badMagic }
        let v = try r.u8()
        guard v == version else { throw .unsupportedVersion(v) }
        let nsCount = try r.u64()
        var ns: [String] = []
        for _ in 0..<nsCount { ns.append(try r.string()) }
        guard ns == s.namespaces else { throw .invalid("namespaces differ: \(ns) vs \(s.namespaces)") }
        let index = try r.u64()
        var ttl: [String: Int64] = [:]
        let root = try readNode(&r, ttl: &ttl, depth: 0)
        guard root.path == "/", root.isDir else { throw .invalid("root is not a directory") }
        let count = try r.u64()
        var events: [StoreEvent] = []
        for _ in 0..<count { events.append(try readEvent(&r)) }
        guard r.atEnd else { throw .invalid("trailing bytes") }
        s.root = root
        s.currentIndex = index
        s.ttlNodes = ttl
        s.expiryQueue.rebuild(ttl)
        s.history.replaceAll(Array(events.suffix(s.history.capacity)))
    }

    private static func writeNode(_ n: Node, _ w: inout ByteWriter) {
        w.string(n.path)
        w.u64(n.createdIndex)
        w.u64(n.modifiedIndex)
        w.optI64(n.expireTime)
        w.bool(n.isDir)
        if n.isDir {
            let children = n.sortedChildren
            w.u64(UInt64(children.count))
            for c in children { writeNode(c, &w) }
        } else {
            w.string(n.value)
        }
    }

    private static func readNode(_ r: inout ByteReader, ttl: inout [String: Int64], depth: Int)
        throws(StoreDecodingError) -> Node
    {
        guard depth < 10_000 else { throw .invalid("tree too deep") }
        let path = try r.string()
        let created = try r.u64()
        let modified = try r.u64()
        let expire = try r.optI64()
        let isDir = try r.bool()
        let n = Node(path: path, createdIndex: created, modifiedIndex: modified, value: "", isDir: isDir,
                     expireTime: expire)
        if let expire { ttl[path] = expire }
        if isDir {
            let count = try r.u64()
            for _ in 0..<count {
                let c = try readNode(&r, ttl: &ttl, depth: depth + 1)
                let (parent, name) = KeyPath.split(c.path)
                guard parent == path else { throw .invalid("node \(c.path) under \(path)") }
                n.children![name] = c
            }
        } else {
            n.value = try r.string()
        }
        return n
    }

    private static func writeView(_ v: NodeView, _ w: inout ByteWriter) {
        w.string(v.key)
        w.optString(v.value)
        w.bool(v.dir)
        w.optI64(v.expiration)
        w.i64(v.ttl)
        w.bool(v.nodes != nil)
        if let nodes = v.nodes {
            w.u64(UInt64(nodes.count))
            for c in nodes { writeView(c, &w) }
        }
        w.u64(v.modifiedIndex)
        w.u64(v.createdIndex)
    }

    private static func readView(_ r: inout ByteReader) throws(StoreDecodingError) -> NodeView {
        var v = NodeView(key: try r.string())
        v.value = try r.optString()
        v.dir = try r.bool()
        v.expiration = try r.optI64()
        v.ttl = try r.i64()
        if try r.bool() {
            let count = try r.u64()
            var nodes: [NodeView] = []
            for _ in 0..<count { nodes.append(try readView(&r)) }
            v.nodes = nodes
        }
        v.modifiedIndex = try r.u64()
        v.createdIndex = try r.u64()
        return v
    }

    private static func writeEvent(_ e: StoreEvent, _ w: inout ByteWriter) {
        w.string(e.action.rawValue)
        writeView(e.node, &w)
        w.bool(e.prevNode != nil)
        if let p = e.prevNode { writeView(p, &w) }
        w.u64(e.etcdIndex)
        w.bool(e.isRefresh)
    }

    private static func readEvent(_ r: inout ByteReader) throws(StoreDecodingError) -> StoreEvent {
        let a = try r.string()
        guard let action = StoreAction(rawValue: a) else { throw .invalid("unknown action \(a)") }
        let node = try readView(&r)
        let prev: NodeView? = try r.bool() ? try readView(&r) : nil
        return StoreEvent(action: action, node: node, prevNode: prev, etcdIndex: try r.u64(), isRefresh: try r.bool())
    }
}
