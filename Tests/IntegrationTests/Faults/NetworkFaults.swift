import TestSupport

/// Network faults between testbed machines: nftables rules in each machine's own network namespace
/// (partitions of any shape, one-way drops) and link cuts on the hub's bridge. Rules live in a table
/// of their own (`inet flt`), so healing is deleting that table; the namespaces, and with them any
/// rule left behind, go away with the testbed.
struct NetworkFaults: Sendable {
    let bed: Testbed

    /// Makes machine `i` drop every packet coming from the machines in `from`.
    func drop(at i: Int, from: [Int]) async throws {
        guard !from.isEmpty else { return }
        let sources = from.map { bed.machines[$0].address }.joined(separator: ", ")
        let script = "add table inet flt; add chain inet flt input { type filter hook input priority 0; policy accept; }; "
            + "add rule inet flt input ip saddr { \(sources) } drop"
        try await nft(at: i, script)
    }

    /// Splits the machines into groups that cannot reach each other (each machine drops what comes
    /// from every machine outside its group). A machine in several groups (a bridge) reaches all of them.
    func partition(_ groups: [[Int]]) async throws {
        for i in bed.machines.indices {
            let reachable = Set(groups.filter { $0.contains(i) }.flatMap { $0 })
            try await drop(at: i, from: bed.machines.indices.filter { !reachable.contains($0) })
        }
    }

    /// One-way loss: `to` no longer hears `from`, while `from` still hears `to`.
    func oneWay(from: [Int], to: Int) async throws { try await drop(at: to, from: from) }

    /// Takes a machine's link on the bridge down (it hears nobody and nobody hears it).
    func cut(_ i: Int) async throws { try await script(["cut", bed.machines[i].name]) }

    /// Removes every rule and brings every link back up.
    func heal() async throws {
        for i in bed.machines.indices {
            _ = try await Testbed.runOffThread(["ip", "netns", "exec", bed.machines[i].name, "nft", "delete table inet flt"])
            try await script(["restore", bed.machines[i].name])
        }
    }

    private func nft(at i: Int, _ script: String) async throws {
        let r = try await Testbed.runOffThread(["ip", "netns", "exec", bed.machines[i].name, "nft", script])
        guard r.succeeded else { throw FaultRunError.command("nft on \(bed.machines[i].name): \(r)") }
    }

    private func script(_ args: [String]) async throws {
        let r = try await Testbed.runOffThread([Testbed.script] + args)
        guard r.succeeded else { throw FaultRunError.command("testbed \(args.joined(separator: " ")): \(r)") }
    }
}
