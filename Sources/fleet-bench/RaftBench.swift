import ArgumentParser
import KV

/// `fleet-bench raft`: committed entries per second of the Raft core in a fault-free in-memory
/// simulation of a 3-node cluster (batching on, snapshots every 10k entries). It measures the
/// core's CPU cost, not I/O: persistence is into `MemoryStorage` and delivery is immediate.
struct RaftBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft",
        abstract: "Committed entries per second of the Raft core (3 nodes, simulated, no faults)."
    )

    @Option(help: "Entries to commit.") var entries = 500_000
    @Option(help: "Entries per proposal batch.") var batch = 64
    @Option(help: "Payload bytes per entry.") var payload = 128

    func run() throws {
        let ids: [UInt64] = [1, 2, 3]
        var nodes: [UInt64: RaftNode] = [:]
        var disks: [UInt64: MemoryStorage] = [:]
        for id in ids {
            let disk = MemoryStorage.bootstrap(voters: ids)
            disks[id] = disk
            nodes[id] = RaftNode(config: RaftConfig(id: id, maxEntriesPerMessage: 256, maxInflightMessages: 64, randomSeed: 1),
                                 storage: disk)
        }
        var inbox: [Message] = []
        var applied: [UInt64: UInt64] = [:]
        var committedOnLeader = 0
        nodes[1]!.campaign()
        let data = [UInt8](repeating: 0x5A, count: payload)
        let proposal = [[UInt8]](repeating: data, count: batch)
        var proposed = 0
        let clock = ContinuousClock()
        let start = clock.now
        var rounds = 0
        while committedOnLeader < entries {
            rounds += 1
            if nodes[1]!.role == .leader && proposed - committedOnLeader < batch * 8 {
                try nodes[1]!.propose(batch: proposal)
                proposed += batch
            }
            for id in ids {
                guard nodes[id]!.hasReady else { continue }
                let rd = nodes[id]!.ready()
                disks[id]!.persist(rd)
                inbox.append(contentsOf: rd.messages)
                if id == 1 { committedOnLeader += rd.committedEntries.count { !$0.data.isEmpty } }
                if let last = rd.committedEntries.last { applied[id] = last.index }
                nodes[id]!.advance(rd)
                if let a = applied[id], a >= nodes[id]!.firstIndex + 10_000 {
                    let snap = try nodes[id]!.compact(upTo: a, data: [])
                    disks[id]!.compact(with: snap)
                }
            }
            let batchMsgs = inbox
            inbox = []
            for m in batchMsgs { nodes[m.to]?.step(m) }
            if rounds % 4 == 0 { for id in ids { nodes[id]!.tick() } }
        }
        let elapsed = clock.now - start
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(committedOnLeader) / secs
        print("raft: 3 nodes, batch \(batch), payload \(payload) B: \(committedOnLeader) entries committed in \((secs * 1000).rounded() / 1000) s = \(Int(rate)) entries/s")
    }
}
