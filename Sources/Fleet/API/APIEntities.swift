/// Conversions from registry records to the API's wire entities, and the page bodies.

extension APIUnit {
    /// A stored unit as the API shows it: global units carry neither currentState nor machineID.
    init(_ resolved: ResolvedUnit) {
        let unit = resolved.stored.unit
        let global = unit.options.isGlobal
        self.init(
            name: unit.name.rawValue,
            options: unit.file.apiOptions,
            desiredState: unit.desiredState.rawValue,
            currentState: global ? nil : resolved.currentState.rawValue,
            machineID: global ? nil : resolved.stored.target)
    }
}

extension APIMachine {
    init(_ machine: MachineState) {
        self.init(id: machine.id, primaryIP: machine.publicIP, metadata: machine.metadata ?? [:])
    }
}

extension APIUnitState {
    init(unit: String, machineID: String, _ record: UnitStateRecord) {
        self.init(
            name: unit, hash: record.unitHash, machineID: machineID, systemdLoadState: record.loadState,
            systemdActiveState: record.activeState, systemdSubState: record.subState)
    }
}

/// `{"<items>":[…],"nextPageToken":"…"}`; both omitted when empty, as fleet's generated structs do.
struct APIPage<Item: Codable & Sendable>: Codable, Sendable {
    var items: [Item]
    var nextPageToken: String?
    let key: String

    init(key: String, items: [Item], nextPageToken: String?) {
        self.key = key
        self.items = items
        self.nextPageToken = nextPageToken
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let key = ["units", "machines", "states"].first { c.contains(Key(stringValue: $0)) } ?? "items"
        self.key = key
        items = try c.decodeIfPresent([Item].self, forKey: Key(stringValue: key)) ?? []
        nextPageToken = try c.decodeIfPresent(String.self, forKey: Key(stringValue: "nextPageToken"))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        if !items.isEmpty { try c.encode(items, forKey: Key(stringValue: key)) }
        if let nextPageToken, !nextPageToken.isEmpty { try c.encode(nextPageToken, forKey: Key(stringValue: "nextPageToken")) }
    }
}
