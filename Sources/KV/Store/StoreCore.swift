/// The v2 store state machine: key tree, etcd index, event history and watcher registry.
///
/// Pure and deterministic: every operation takes the time as an argument (`now`, Unix nanoseconds),
/// never reads a clock, and iterates children in sorted order. `Store` wraps it in a lock; tests and
/// tools may drive it directly.
///
/// Index rules (etcd): each successful write (set, create, update, CAS, delete, CAD, and each expired
/// node) advances `currentIndex` by exactly one and records one event; reads, watches and failed
/// writes leave it unchanged. Intermediate directories created on the way to a new key take the new
/// index but produce no event of their own.
struct StoreCore {
    var root: Node
    var currentIndex: UInt64 = 0
    var history: EventHistory
    var hub = WatcherHub()
    /// Paths that cannot be written or deleted: `/` and the namespaces.
    let readonly: Set<String>
    let namespaces: [String]
    /// Expiry time of every node with a TTL, by path (the node at a path is unique).
    var ttlNodes: [String: Int64] = [:]
    /// Due-order index over `ttlNodes` (derived state, not snapshotted).
    var expiryQueue = ExpiryQueue()
    /// Continuations to finish once the lock is released (finishing runs `onTermination`).
    var finished: [EventContinuation] = []
    /// Member-local counters (not snapshotted).
    var stats = StoreStats()

    init(namespaces: [String], historyCapacity: Int) {
        root = Node(path: "/", createdIndex: 0, modifiedIndex: 0, value: "", isDir: true, expireTime: nil)
        history = EventHistory(capacity: historyCapacity)
        let ns = namespaces.map { KeyPath.canonical($0) }
        self.namespaces = ns
        readonly = Set(["/"] + ns)
        for n in ns where n != "/" {
            let (_, name) = KeyPath.split(n)
            root.children![name] = Node(path: n, createdIndex: 0, modifiedIndex: 0, value: "", isDir: true,
                                        expireTime: nil)
        }
    }

    // MARK: - Lookup

    /// The node at `path`. 100 names the first missing component; 104 names the file met on the way.
    func lookup(_ path: String) throws(StoreError) -> Node {
        var curr = root
        for c in KeyPath.components(path) {
            guard let children = curr.children else {
                throw StoreError(.notDir, cause: curr.path, index: currentIndex)
            }
            guard let child = children[String(c)] else {
                throw StoreError(.keyNotFound, cause: KeyPath.join(curr.path, c), index: currentIndex)
            }
            curr = child
        }
        return curr
    }

    /// Walks to directory `path`, creating missing directories with index `currentIndex + 1`.
    private mutating func ensureDir(_ path: String) throws(StoreError) -> Node {
        var curr = root
        for c in KeyPath.components(path) {
            let name = String(c)
            if let child = curr.children![name] {
                guard child.isDir else { throw StoreError(.notDir, cause: child.path, index: currentIndex) }
                curr = child
            } else {
                let d = Node(path: KeyPath.join(curr.path, name), createdIndex: currentIndex + 1,
                             modifiedIndex: currentIndex + 1, value: "", isDir: true, expireTime: nil)
                curr.children![name] = d
                curr = d
            }
        }
        return curr
    }

    // MARK: - Reads

    /// GET: the node (a directory lists its children: one level, or all with `recursive`).
    /// `sorted` is accepted for parity; listings are always sorted (see `Node.view`).
    func get(_ key: String, recursive: Bool, sorted: Bool, now: Int64) throws(StoreError) -> StoreEvent {
        let path = KeyPath.canonical(key)
        let n = try lookup(path)
        var v = NodeView(key: path, modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex)
        if n.isDir {
            v.dir = true
            let list = n.listing(recursive: recursive, now: now)
            v.nodes = list.isEmpty ? nil : list
        } else {
            v.value = n.value
        }
        (v.expiration, v.ttl) = TTL.expirationAndTTL(n.expireTime, now: now)
        return StoreEvent(action: .get, node: v, etcdIndex: currentIndex)
    }

    // MARK: - Writes

    /// PUT without conditions: create or replace a file, or create a directory (102 on an existing
    /// directory). With `refresh` the existing value is kept and only the TTL changes.
    mutating func set(_ key: String, dir: Bool, value: String, expireTime: Int64?, refresh: Bool,
                      now: Int64) throws(StoreError) -> StoreEvent {
        let path = KeyPath.canonical(key)
        var prev: Node?
        do {
            prev = try lookup(path)
        } catch where error.code == .keyNotFound && !refresh {
            prev = nil
        }
        let prevView = prev?.view(recursive: false, now: now)
        let value = refresh ? (prev?.value ?? "") : value
        var ev = try create(path, dir: dir, value: value, unique: false, replace: true, expireTime: expireTime,
                            action: .set, now: now)
        ev.prevNode = prevView
        ev.isRefresh = refresh
        record(ev, deletedPaths: [])
        return ev
    }

    /// PUT prevExist=false (`unique: false`) or POST (`unique: true`, in-order key named after the new
    /// index, zero-padded to 20 digits). 105 if the key exists.
    mutating func create(_ key: String, dir: Bool, value: String, unique: Bool, expireTime: Int64?,
                         now: Int64) throws(StoreError) -> StoreEvent {
        let ev = try create(KeyPath.canonical(key), dir: dir, value: value, unique: unique, replace: false,
                            expireTime: expireTime, action: .create, now: now)
        record(ev, deletedPaths: [])
        return ev
    }

    private mutating func create(_ key: String, dir: Bool, value: String, unique: Bool, replace: Bool,
                                 expireTime: Int64?, action: StoreAction, now: Int64) throws(StoreError)
        -> StoreEvent
    {
        let next = currentIndex + 1
        var path = key
        if unique {
            let digits = String(next)
            path = KeyPath.join(path, String(repeating: "0", count: max(0, 20 - digits.count)) + digits)
        }
        if readonly.contains(path) { throw StoreError(.rootReadOnly, cause: "/", index: currentIndex) }
        let (dirName, name) = KeyPath.split(path)
        let parent = try ensureDir(dirName)
        var ev = StoreEvent(action: action, node: NodeView(key: path, modifiedIndex: next, createdIndex: next),
                            etcdIndex: next)
        if let existing = parent.children![name] {
            guard replace else { throw StoreError(.nodeExist, cause: path, index: currentIndex) }
            if existing.isDir { throw StoreError(.notFile, cause: path, index: currentIndex) }
            ev.prevNode = existing.view(recursive: false, now: now)
            ttlNodes[path] = nil
        }
        let n = Node(path: path, createdIndex: next, modifiedIndex: next, value: dir ? "" : value, isDir: dir,
                     expireTime: expireTime)
        parent.children![name] = n
        if dir { ev.node.dir = true } else { ev.node.value = value }
        if let expireTime { trackExpiry(path, expireTime) }
        (ev.node.expiration, ev.node.ttl) = TTL.expirationAndTTL(expireTime, now: now)
        currentIndex = next
        return ev
    }

    /// PUT prevExist=true: replace the value (and TTL) of an existing node. A directory accepts only
    /// an empty value; etcd then reports the new index in the event but leaves the directory's stored
    /// modifiedIndex unchanged (quirk kept).
    mutating func update(_ key: String, value: String, expireTime: Int64?, refresh: Bool, now: Int64)
        throws(StoreError) -> StoreEvent
    {
        let path = KeyPath.canonical(key)
        if readonly.contains(path) { throw StoreError(.rootReadOnly, cause: "/", index: currentIndex) }
        let n = try lookup(path)
        if n.isDir && !value.isEmpty { throw StoreError(.notFile, cause: path, index: currentIndex) }
        let next = currentIndex + 1
        let newValue = refresh ? n.value : value
        var ev = StoreEvent(action: .update,
                            node: NodeView(key: path, modifiedIndex: next, createdIndex: n.createdIndex),
                            prevNode: n.view(recursive: false, now: now), etcdIndex: next, isRefresh: refresh)
        if n.isDir {
            ev.node.dir = true
        } else {
            n.value = newValue
            n.modifiedIndex = next
            ev.node.value = newValue
        }
        setExpiry(n, expireTime)
        (ev.node.expiration, ev.node.ttl) = TTL.expirationAndTTL(expireTime, now: now)
        currentIndex = next
        record(ev, deletedPaths: [])
        return ev
    }

    /// PUT with prevValue/prevIndex: write only if the current file matches.
    mutating func compareAndSwap(_ key: String, prevValue: String, prevIndex: UInt64, value: String,
                                 expireTime: Int64?, refresh: Bool, now: Int64) throws(StoreError) -> StoreEvent
    {
        let path = KeyPath.canonical(key)
        if readonly.contains(path) { throw StoreError(.rootReadOnly, cause: "/", index: currentIndex) }
        let n = try lookup(path)
        if n.isDir { throw StoreError(.notFile, cause: path, index: currentIndex) }
        try compare(n, prevValue: prevValue, prevIndex: prevIndex)
        let newValue = refresh ? n.value : value
        let next = currentIndex + 1
        var ev = StoreEvent(action: .compareAndSwap,
                            node: NodeView(key: path, value: newValue, modifiedIndex: next,
                                           createdIndex: n.createdIndex),
                            prevNode: n.view(recursive: false, now: now), etcdIndex: next, isRefresh: refresh)
        n.value = newValue
        n.modifiedIndex = next
        setExpiry(n, expireTime)
        (ev.node.expiration, ev.node.ttl) = TTL.expirationAndTTL(expireTime, now: now)
        currentIndex = next
        record(ev, deletedPaths: [])
        return ev
    }

    /// DELETE: a file (with or without `dir`), an empty directory (`dir`), or a subtree (`recursive`).
    mutating func delete(_ key: String, dir: Bool, recursive: Bool, now: Int64) throws(StoreError)
        -> StoreEvent
    {
        let path = KeyPath.canonical(key)
        if readonly.contains(path) { throw StoreError(.rootReadOnly, cause: "/", index: currentIndex) }
        let n = try lookup(path)
        if n.isDir {
            if !(dir || recursive) { throw StoreError(.notFile, cause: n.path, index: currentIndex) }
            if !recursive && !(n.children!.isEmpty) {
                throw StoreError(.dirNotEmpty, cause: n.path, index: currentIndex)
            }
        }
        let next = currentIndex + 1
        var node = NodeView(key: path, modifiedIndex: next, createdIndex: n.createdIndex)
        node.dir = n.isDir
        let ev = StoreEvent(action: .delete, node: node, prevNode: n.view(recursive: false, now: now),
                            etcdIndex: next)
        let removed = remove(n)
        currentIndex = next
        record(ev, deletedPaths: removed)
        return ev
    }

    /// DELETE with prevValue/prevIndex: delete a file only if it matches.
    mutating func compareAndDelete(_ key: String, prevValue: String, prevIndex: UInt64, now: Int64)
        throws(StoreError) -> StoreEvent
    {
        let path = KeyPath.canonical(key)
        let n = try lookup(path)
        if n.isDir { throw StoreError(.notFile, cause: path, index: currentIndex) }
        try compare(n, prevValue: prevValue, prevIndex: prevIndex)
        let next = currentIndex + 1
        let ev = StoreEvent(action: .compareAndDelete,
                            node: NodeView(key: path, modifiedIndex: next, createdIndex: n.createdIndex),
                            prevNode: n.view(recursive: false, now: now), etcdIndex: next)
        let removed = remove(n)
        currentIndex = next
        record(ev, deletedPaths: removed)
        return ev
    }

    /// Removes every node whose expiry is at or before `now`, one `expire` event (and one index) each,
    /// earliest first (ties by path). A directory takes its subtree with it.
    mutating func expire(now: Int64) -> [StoreEvent] {
        var events: [StoreEvent] = []
        while let due = expiryQueue.peekLive(ttlNodes), due.time <= now {
            expiryQueue.pop()
            guard let n = try? lookup(due.path) else {
                ttlNodes[due.path] = nil
                continue
            }
            let next = currentIndex + 1
            var node = NodeView(key: due.path, modifiedIndex: next, createdIndex: n.createdIndex)
            node.dir = n.isDir
            let ev = StoreEvent(action: .expire, node: node, prevNode: n.view(recursive: false, now: now),
                                etcdIndex: next)
            let removed = remove(n)
            currentIndex = next
            record(ev, deletedPaths: removed)
            events.append(ev)
        }
        return events
    }

    /// The earliest pending expiry, so the leader knows when an `expire` command is worth proposing.
    mutating func nextExpiration() -> Int64? { expiryQueue.peekLive(ttlNodes)?.time }

    // MARK: - Helpers

    private func compare(_ n: Node, prevValue: String, prevIndex: UInt64) throws(StoreError) {
        let indexOK = prevIndex == 0 || n.modifiedIndex == prevIndex
        let valueOK = prevValue.isEmpty || n.value == prevValue
        let cause: String
        switch (valueOK, indexOK) {
        case (true, true): return
        case (false, true): cause = "[\(prevValue) != \(n.value)]"
        case (true, false): cause = "[\(prevIndex) != \(n.modifiedIndex)]"
        case (false, false): cause = "[\(prevValue) != \(n.value)] [\(prevIndex) != \(n.modifiedIndex)]"
        }
        throw StoreError(.testFailed, cause: cause, index: currentIndex)
    }

    private mutating func setExpiry(_ n: Node, _ t: Int64?) {
        n.expireTime = t
        if let t { trackExpiry(n.path, t) } else { ttlNodes[n.path] = nil }
    }

    private mutating func trackExpiry(_ path: String, _ t: Int64) {
        if ttlNodes[path] == t { return }
        ttlNodes[path] = t
        expiryQueue.push(t, path)
        expiryQueue.compactIfNeeded(ttlNodes)
    }

    /// Detaches `n` and its subtree; returns every removed path (children before parents).
    private mutating func remove(_ n: Node) -> [String] {
        var paths: [String] = []
        collect(n, into: &paths)
        let (parentPath, name) = KeyPath.split(n.path)
        if let parent = try? lookup(parentPath) { parent.children?[name] = nil }
        return paths
    }

    private mutating func collect(_ n: Node, into paths: inout [String]) {
        for c in n.sortedChildren { collect(c, into: &paths) }
        ttlNodes[n.path] = nil
        paths.append(n.path)
    }

    /// Appends a successful write to the history and wakes watchers (refreshes wake nobody).
    private mutating func record(_ ev: StoreEvent, deletedPaths: [String]) {
        history.add(ev)
        if !ev.isRefresh { hub.notify(ev, deletedPaths: deletedPaths, finished: &finished) }
    }
}
