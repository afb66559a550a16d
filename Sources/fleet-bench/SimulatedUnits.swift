import Fleet

/// The unit mix of `fleet-bench fleet-sim`: what a real fleet submits, constraints included.
///
/// 70% plain services, 12% restricted by machine metadata (`disk=ssd`, a third of the machines),
/// 10% template instances that refuse to share a machine (`Conflicts=%p@*.service`), 6% sidekicks
/// (`MachineOf=`) of a plain service, 2% pinned to a machine ID; plus `globals` global units limited
/// to one rack (1/40 of the machines), which every machine of that rack runs.
struct SimulatedUnits {
    /// Non-global units, each scheduled on exactly one machine once converged.
    let scheduled: [RegistryUnit]
    /// Global units and the metadata they require.
    let global: [RegistryUnit]

    /// Machine IDs are 32 hex digits, like systemd's.
    static func machineID(_ i: Int) -> String {
        let h = String(i + 1, radix: 16)
        return String(repeating: "0", count: 32 - h.count) + h
    }

    /// Metadata of machine `i`: a third have SSDs, racks of 1/40 of the cluster.
    static func metadata(_ i: Int) -> [String: String] {
        ["disk": i % 3 == 0 ? "ssd" : "hdd", "rack": "r\(i % 40)"]
    }

    init(count: Int, machines: Int, globals: Int) throws {
        var scheduled: [RegistryUnit] = []
        scheduled.reserveCapacity(count)
        // Template groups no larger than the cluster, so each conflicting instance finds a machine.
        let groupSize = max(1, min(20, machines / 2))
        for i in 0..<count {
            let name: String
            var xfleet = ""
            switch i % 50 {
            case 0..<35: name = "app\(i).service"
            case 35..<41:
                name = "db\(i).service"
                xfleet = "MachineMetadata=disk=ssd\n"
            case 41..<46:
                name = "web\(i / (groupSize * 10))@\(i).service"
                xfleet = "Conflicts=%p@*.service\n"
            case 46..<49:
                name = "side\(i).service"
                xfleet = "MachineOf=app\(i - i % 50).service\n"
            default:
                name = "pinned\(i).service"
                xfleet = "MachineID=\(Self.machineID(i % machines))\n"
            }
            let text = "[Unit]\nDescription=\(name)\n\n[Service]\nExecStart=/bin/sleep infinity\n"
                + (xfleet.isEmpty ? "" : "\n[X-Fleet]\n" + xfleet)
            scheduled.append(try RegistryUnit(name: name, text: text, desiredState: .launched))
        }
        var global: [RegistryUnit] = []
        for g in 0..<globals {
            let text = "[Unit]\nDescription=global \(g)\n\n[Service]\nExecStart=/bin/sleep infinity\n\n[X-Fleet]\nGlobal=true\nMachineMetadata=rack=r\(g % 40)\n"
            global.append(try RegistryUnit(name: "global\(g).service", text: text, desiredState: .launched))
        }
        self.scheduled = scheduled
        self.global = global
    }

    /// The global units machine `i` should run.
    func globals(onMachine i: Int) -> [String] {
        global.indices.filter { $0 % 40 == i % 40 }.map { global[$0].name.rawValue }
    }
}
