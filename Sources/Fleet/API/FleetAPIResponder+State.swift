import KV

/// `GET /state` (paged, `machineID` and `unitName` filters) and `GET /state/<name>`.
extension FleetAPIResponder {
    func listStates(_ request: HTTPRequest) async throws(APIServerError) -> HTTPResponse {
        let token = try pageToken(request)
        let items = try query(request)
        let machineFilter = items.first { $0.name == "machineID" }?.value
        let unitFilter = items.first { $0.name == "unitName" }?.value
        // A unit filter reads only that unit's states.
        let states = try await unitStates(unitFilter.flatMap { $0.isEmpty ? nil : $0 })
            .filter { state in machineFilter.map { $0.isEmpty || state.machineID == $0 } ?? true }
        let (range, next) = token.window(total: states.count)
        return APIJSON.response(.ok, APIPage(key: "states", items: Array(states[range]), nextPageToken: next?.encoded))
    }

    func getState(_ name: String) async throws(APIServerError) -> HTTPResponse {
        guard let first = try await unitStates(name).first else {
            throw .notFound("unit \(name) has no published state")
        }
        return APIJSON.response(.ok, first)
    }

    /// Published states sorted by unit name, then machine ID, of present machines only: a dead
    /// machine's records live on until their TTL (`agent_ttl`) runs out, and fleet listed its units
    /// as still active there meanwhile, after the engine had already moved them.
    private func unitStates(_ unit: String?) async throws(APIServerError) -> [APIUnitState] {
        let all = try await registryCall("list_unit_states") { () async throws(RegistryError) in
            try await registry.unitStates(unit)
        }
        let present = Set(try await registryCall("list_machines") { () async throws(RegistryError) in
            try await registry.machines()
        }.map(\.id))
        return all.keys.sorted().flatMap { name in
            all[name]!.keys.sorted().filter(present.contains).map { machine in
                APIUnitState(unit: name, machineID: machine, all[name]![machine]!)
            }
        }
    }
}
