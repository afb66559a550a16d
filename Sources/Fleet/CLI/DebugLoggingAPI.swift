/// `--debug`: a ``FleetAPI`` that writes each call and its outcome to stderr before passing it on,
/// so a user can see which requests a command makes and which one failed.
public struct DebugLoggingAPI: FleetAPI {
    let base: any FleetAPI
    let log: @Sendable (String) -> Void

    public init(_ base: any FleetAPI, log: @escaping @Sendable (String) -> Void) {
        self.base = base
        self.log = log
    }

    private func logged<T>(_ what: String, _ body: () async throws(FleetAPIError) -> T) async throws(FleetAPIError) -> T {
        log("DEBUG: \(what)\n")
        do {
            let result = try await body()
            log("DEBUG: \(what): ok\n")
            return result
        } catch {
            log("DEBUG: \(what): \(error)\n")
            throw error
        }
    }

    public func machines() async throws(FleetAPIError) -> [APIMachine] {
        try await logged("GET machines") { () async throws(FleetAPIError) in try await base.machines() }
    }
    public func units() async throws(FleetAPIError) -> [APIUnit] {
        try await logged("GET units") { () async throws(FleetAPIError) in try await base.units() }
    }
    public func unit(_ name: String) async throws(FleetAPIError) -> APIUnit? {
        try await logged("GET units/\(name)") { () async throws(FleetAPIError) in try await base.unit(name) }
    }
    public func createUnit(_ unit: APIUnit) async throws(FleetAPIError) {
        try await logged("PUT units/\(unit.name) with options") { () async throws(FleetAPIError) in
            try await base.createUnit(unit)
        }
    }
    public func setDesiredState(_ name: String, to state: String) async throws(FleetAPIError) {
        try await logged("PUT units/\(name) desiredState=\(state)") { () async throws(FleetAPIError) in
            try await base.setDesiredState(name, to: state)
        }
    }
    public func destroyUnit(_ name: String) async throws(FleetAPIError) {
        try await logged("DELETE units/\(name)") { () async throws(FleetAPIError) in try await base.destroyUnit(name) }
    }
    public func unitStates(machineID: String?, unitName: String?) async throws(FleetAPIError) -> [APIUnitState] {
        try await logged("GET state machineID=\(machineID ?? "") unitName=\(unitName ?? "")") {
            () async throws(FleetAPIError) in try await base.unitStates(machineID: machineID, unitName: unitName)
        }
    }
    public func patchMachineMetadata(_ ops: [APIMachineMetadataOp]) async throws(FleetAPIError) {
        try await logged("PATCH machines (\(ops.count) operations)") { () async throws(FleetAPIError) in
            try await base.patchMachineMetadata(ops)
        }
    }
    public func unitStatus(_ name: String, machineID: String?) async throws(FleetAPIError) -> String {
        try await logged("GET status of \(name) on \(machineID ?? "its machine")") { () async throws(FleetAPIError) in
            try await base.unitStatus(name, machineID: machineID)
        }
    }
    public func journal(_ name: String, machineID: String?, lines: Int, follow: Bool)
        async throws(FleetAPIError) -> AsyncThrowingStream<String, any Error>
    {
        try await logged("GET journal of \(name) lines=\(lines) follow=\(follow)") { () async throws(FleetAPIError) in
            try await base.journal(name, machineID: machineID, lines: lines, follow: follow)
        }
    }
}
