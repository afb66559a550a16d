import KV

extension FleetDaemon {
    /// The API a real fleetd serves: fleet's v1 routes over the registry, unit status and journal
    /// from this machine's systemd, and forwarding of those to the machine that runs a unit.
    public static func standardAPI(config: FleetConfig, forwardTimeout: Double = 10)
        -> @Sendable (Registry, MachineState) -> any HTTPResponder
    {
        let limit = UInt16(clamping: config.tokenLimit)
        return { registry, machine in
            FleetAPIResponder(
                registry: registry,
                configuration: FleetAPIConfiguration(
                    tokenLimit: limit, version: "v" + FleetModule.version, localMachineID: machine.id,
                    inspector: SystemdUnitInspector(machineID: machine.id), forwardClient: HTTPClient(),
                    forwardTimeout: forwardTimeout))
        }
    }
}
