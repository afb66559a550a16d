import KV

/// A tiny hand-driven cluster for scripted scenarios: messages are delivered only when a test
/// says so, so exact interleavings (like Raft's Figure 8) can be written down.
struct ScriptedCluster {
    var nodes: [UInt64: RaftNode] = [:]
    var disks: [UInt64: MemoryStorage] = [:]
    var inbox: [Message] = []
    var applied: [UInt64: [Entry]] = [:]
    var readStates: [UInt64: [ReadState]] = [:]
    var snapshotsInstalled: [UInt64: Int] = [:]
    let configure: @Sendable (inout RaftConfig) -> Void

    init(voters: [UInt64], configure: @escaping @Sendable (inout RaftConfig) -> Void = { _ in }) {
        self.configure = configure
        for id in voters { add(id, disk: MemoryStorage.bootstrap(voters: voters)) }
    }

    mutating func add(_ id: UInt64, disk: MemoryStorage = MemoryStorage()) {
        var c = RaftConfig(id: id, randomSeed: 42)
        configure(&c)
        nodes[id] = RaftNode(config: c, storage: disk)
        disks[id] = disk
    }

    /// Persists, sends (into the inbox) and applies every node's Ready.
    mutating func flush() {
        for id in nodes.keys.sorted() {
            while nodes[id]!.hasReady {
                let rd = nodes[id]!.ready()
                disks[id]!.persist(rd)
                inbox.append(contentsOf: rd.messages)
                if rd.snapshot != nil { snapshotsInstalled[id, default: 0] += 1 }
                applied[id, default: []].append(contentsOf: rd.committedEntries)
                readStates[id, default: []].append(contentsOf: rd.readStates)
                nodes[id]!.advance(rd)
            }
        }
    }

    /// Delivers pending messages accepted by `allow` (others are dropped) until quiet.
    mutating func stabilize(rounds: Int = 200, allow: (Message) -> Bool = { _ in true }) {
        for _ in 0..<rounds {
            flush()
            if inbox.isEmpty { return }
            let batch = inbox
            inbox = []
            for m in batch where allow(m) && nodes[m.to] != nil { nodes[m.to]!.step(m) }
        }
    }

    mutating func tickAll(_ n: Int, only: Set<UInt64>? = nil) {
        for _ in 0..<n { for id in nodes.keys.sorted() where only?.contains(id) ?? true { nodes[id]!.tick() } }
    }

    var leaders: [UInt64] { nodes.keys.filter { nodes[$0]!.role == .leader }.sorted() }
}
