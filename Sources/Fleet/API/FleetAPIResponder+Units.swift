import Foundation
import KV
import NIOHTTP1

/// `GET /units`, `GET|PUT|DELETE /units/<name>`.
extension FleetAPIResponder {
    func listUnits(_ request: HTTPRequest) async throws(APIServerError) -> HTTPResponse {
        let token = try pageToken(request)
        let listing = try await registryCall("list_units") { () async throws(RegistryError) in try await registry.unitListing() }
        let (range, next) = token.window(total: listing.names.count)
        let page = try await registryCall("read_units") { () async throws(RegistryError) in
            try await registry.resolveUnits(listing, names: listing.names[range])
        }
        return APIJSON.response(
            .ok, APIPage(key: "units", items: page.units.map(APIUnit.init), nextPageToken: next?.encoded))
    }

    func getUnit(_ name: String) async throws(APIServerError) -> HTTPResponse {
        guard let unit = try await resolvedUnit(name) else { throw .unitNotFound }
        return APIJSON.response(.ok, APIUnit(unit))
    }

    /// One unit with its current state; nil when absent; 500 naming the record when it is unreadable.
    func resolvedUnit(_ name: String) async throws(APIServerError) -> ResolvedUnit? {
        switch try await lookUpUnit(name) {
        case .absent: return nil
        case .found(let unit): return unit
        case .unreadable(let problem): throw APIServerError(.internalServerError, problem.description)
        }
    }

    enum UnitLookup {
        case absent
        case found(ResolvedUnit)
        /// The job object exists but the unit cannot be read (the problem says which record).
        case unreadable(RegistryError)
    }

    func lookUpUnit(_ name: String) async throws(APIServerError) -> UnitLookup {
        let listing = try await registryCall("read_unit") { () async throws(RegistryError) in
            try await registry.unitListing(only: name)
        }
        guard listing.names.contains(name) else { return .absent }
        let read = try await registryCall("read_unit") { () async throws(RegistryError) in
            try await registry.resolveUnits(listing, names: [name])
        }
        if let unit = read.units.first { return .found(unit) }
        return .unreadable(read.problems.first ?? .corruptRecord(key: registry.keys.jobObject(name), reason: "unreadable"))
    }

    func destroyUnit(_ name: String) async throws(APIServerError) -> HTTPResponse {
        try await registryCall("destroy_unit") { () async throws(RegistryError) in try await registry.destroyUnit(name) }
        return APIJSON.empty(.noContent)
    }

    /// fleet's PUT: create (201), replace when the options hash differently (201), or change the
    /// desired state (204). Unlike fleet, the desired state is validated (400), and an instance of a
    /// template in the registry may be created without options.
    func putUnit(_ name: String, _ request: HTTPRequest) async throws(APIServerError) -> HTTPResponse {
        try requireJSON(request)
        var body: APIUnit
        do { body = try APIJSON.decode(APIUnit.self, from: request.body) } catch {
            throw .badRequest("unable to decode body: \(error)")
        }
        if body.name.isEmpty { body.name = name }
        guard body.name == name else {
            throw .badRequest("name in URL \"\(name)\" differs from unit name in request body \"\(body.name)\"")
        }
        let unitName: UnitName
        do { unitName = try UnitName(name) } catch { throw .badRequest(error.description) }
        let desired = try desiredState(body.desiredState)
        if let desired { try validated { () throws(UnitValidationError) in try desired.validate(for: unitName) } }

        // The common case — a new unit with its options — is one create, not a read first: the
        // create's write of `job/<u>/object` is conditional on its absence, so an existing unit
        // still takes the path below (a 1,000-unit `fleetctl start` saves 1,000 store reads).
        if !body.options.isEmpty, try await createIfAbsent(unitName, options: body.options, desired: desired) {
            return APIJSON.empty(.created)
        }
        let existing: ResolvedUnit
        switch try await lookUpUnit(name) {
        case .absent:
            let unit = try await newUnit(unitName, options: body.options, desired: desired ?? .inactive)
            try await registryCall("create_unit") { () async throws(RegistryError) in try await registry.createUnit(unit) }
            return APIJSON.empty(.created)
        case .unreadable(.invalidUnit(_, .invalidDesiredState)) where desired != nil && body.options.isEmpty:
            // Repairs a unit whose desired state fleet's bug 6 poisoned: its contents are fine.
            try await registryCall("set_desired_state") { () async throws(RegistryError) in
                try await registry.writeDesiredState(name, desired!)
            }
            return APIJSON.empty(.noContent)
        case .unreadable(let problem):
            throw APIServerError(.internalServerError, problem.description)
        case .found(let unit):
            existing = unit
        }
        guard let desired else { throw .conflict("must provide desiredState to update existing unit \(name)") }
        if !body.options.isEmpty {
            let file = try unitFile(body.options)
            if file.hash != existing.stored.unit.hash {
                let unit = try validated { () throws(UnitValidationError) in
                    try RegistryUnit(name: name, file: file, desiredState: desired)
                }
                try await registryCall("replace_unit") { () async throws(RegistryError) in try await registry.replaceUnit(unit) }
                return APIJSON.empty(.created)
            }
        }
        // The lookup above found the unit and `desired` was validated for its name: one write, not
        // ``Registry/setDesiredState(_:to:)``'s second read of the unit.
        try await registryCall("set_desired_state") { () async throws(RegistryError) in
            try await registry.writeDesiredState(name, desired)
        }
        return APIJSON.empty(.noContent)
    }

    /// Creates the unit from `options` unless a unit of that name exists; false when one does.
    private func createIfAbsent(_ name: UnitName, options: [APIUnitOption], desired: FleetState?)
        async throws(APIServerError) -> Bool
    {
        let unit = try await newUnit(name, options: options, desired: desired ?? .inactive)
        let started = ContinuousClock.now
        do {
            try await registry.createUnit(unit)
            metrics.recordRegistry("create_unit", seconds: (ContinuousClock.now - started).seconds, failed: false)
            return true
        } catch .unitExists {
            metrics.recordRegistry("create_unit_existing", seconds: (ContinuousClock.now - started).seconds, failed: false)
            return false
        } catch {
            metrics.recordRegistry("create_unit", seconds: (ContinuousClock.now - started).seconds, failed: true)
            throw .registry(error)
        }
    }

    /// A unit to create from the body's options or, without options, from its template in the registry.
    private func newUnit(_ name: UnitName, options: [APIUnitOption], desired: FleetState)
        async throws(APIServerError) -> RegistryUnit
    {
        if !options.isEmpty {
            let file = try unitFile(options)
            return try validated { () throws(UnitValidationError) in
                try RegistryUnit(name: name.rawValue, file: file, desiredState: desired)
            }
        }
        guard name.isInstance, let templateName = name.template, let instance = name.instance,
            let template = try await resolvedUnit(templateName.rawValue)
        else {
            var hint = ""
            if name.isInstance, let t = name.template { hint = ", and its template \(t.rawValue) does not exist either" }
            throw .conflict("unit \(name.rawValue) does not exist and options field empty\(hint)")
        }
        return try validated { () throws(UnitValidationError) in
            try template.stored.unit.instantiate(instance, desiredState: desired)
        }
    }

    private func unitFile(_ options: [APIUnitOption]) throws(APIServerError) -> UnitFile {
        do {
            return try UnitFile(apiOptions: options)
        } catch {
            throw .badRequest(error.description)
        }
    }

    /// The body's desiredState: nil when absent or empty, 400 when not one of fleet's three states.
    private func desiredState(_ text: String?) throws(APIServerError) -> FleetState? {
        guard let text, !text.isEmpty else { return nil }
        return try validated { () throws(UnitValidationError) in try FleetState(validating: text) }
    }

    private func validated<T>(_ body: () throws(UnitValidationError) -> T) throws(APIServerError) -> T {
        do { return try body() } catch { throw .badRequest(error.description) }
    }

    /// fleet accepts exactly one Content-Type, `application/json` (parameters allowed); else 415.
    func requireJSON(_ request: HTTPRequest) throws(APIServerError) {
        let values = request.headers["Content-Type"]
        guard values.count == 1 else {
            throw APIServerError(.unsupportedMediaType, "expected 1 Content-Type (application/json), got \(values.count)")
        }
        let media = values[0].split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard media.lowercased() == "application/json" else {
            throw APIServerError(.unsupportedMediaType, "only acceptable Content-Type is application/json, got \"\(values[0])\"")
        }
    }
}
