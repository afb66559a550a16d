import KV
import NIOCore
import NIOHTTP1

/// `GET /units/<name>/status` and `GET /units/<name>/journal`: answered by the agent of the machine
/// running the unit, here when that is this machine, else forwarded to that machine's fleetd.
extension FleetAPIResponder {
    enum Inspection: String, Sendable {
        case status, journal
    }

    func inspect(_ name: String, _ kind: Inspection, _ request: HTTPRequest) async throws(APIServerError)
        -> HTTPResponse
    {
        let parameters = try InspectionParameters(query: try query(request))
        guard let unit = try await resolvedUnit(name) else { throw .unitNotFound }
        let machineID = try await machineRunning(unit, asked: parameters.machineID)
        if machineID == configuration.localMachineID {
            return try await inspectLocally(name, kind, parameters, machineID: machineID)
        }
        if let from = request.headers.first(name: Self.forwardedHeader) {
            throw APIServerError(
                .loopDetected,
                "request for unit \(name) was forwarded here by machine \(from), but this is machine "
                    + "\(configuration.localMachineID ?? "(unknown)"), not \(machineID); refusing to forward it again "
                    + "(check the machines' APIURL addresses)")
        }
        guard let machine = try await registryCall("read_machine", { () async throws(RegistryError) in
            try await registry.machine(machineID)
        }) else {
            throw .conflict("unit \(name) is scheduled on machine \(machineID), which is no longer in the cluster")
        }
        guard let url = machine.apiURL, !url.isEmpty else {
            throw .badGateway(
                "machine \(machineID) does not advertise an API address; start its fleetd with a TCP API listener")
        }
        return try await forward(name, kind, parameters, machineID: machineID, url: url)
    }

    /// The machine whose agent answers: the one asked for, else the unit's target; a global unit runs
    /// on many machines, so one must be named.
    private func machineRunning(_ unit: ResolvedUnit, asked: String?) async throws(APIServerError) -> String {
        if let asked { return asked }
        let name = unit.stored.name
        if unit.stored.unit.options.isGlobal {
            let states = try await registryCall("list_unit_states") { () async throws(RegistryError) in
                try await registry.unitStates(name)
            }
            let machines = (states[name] ?? [:]).keys.sorted()
            if machines.isEmpty { throw .badRequest("unit \(name) is global and runs on no machine yet") }
            throw .badRequest(
                "unit \(name) is global; add machineID= naming one of the machines running it: "
                    + machines.joined(separator: ", "))
        }
        guard let target = unit.stored.target else { throw .conflict("unit \(name) is not running on any machine") }
        return target
    }

    private func inspectLocally(_ name: String, _ kind: Inspection, _ parameters: InspectionParameters, machineID: String)
        async throws(APIServerError) -> HTTPResponse
    {
        guard let inspector = configuration.inspector else {
            throw APIServerError(
                .notImplemented, "this fleetd (machine \(machineID)) has no access to its systemd; cannot read unit \(name)")
        }
        let what = kind == .status ? "status" : "journal"
        do {
            switch kind {
            case .status:
                return HTTPResponse(status: .ok, contentType: "text/plain; charset=utf-8", text: try await inspector.status(name))
            case .journal:
                let lines = try await inspector.journal(name, lines: parameters.lines, follow: parameters.follow)
                if parameters.follow {
                    return HTTPResponse(
                        status: .ok, headers: ["Content-Type": "text/plain; charset=utf-8"],
                        body: .stream { writer in
                            for try await line in lines { try await writer.write(line + "\n") }
                        })
                }
                var text = ""
                for try await line in lines { text += line + "\n" }
                return HTTPResponse(status: .ok, contentType: "text/plain; charset=utf-8", text: text)
            }
        } catch {
            throw APIServerError(.internalServerError, "reading the \(what) of unit \(name) on machine \(machineID): \(error)")
        }
    }
}
