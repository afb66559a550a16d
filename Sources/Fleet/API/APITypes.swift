/// The JSON entities of fleet's HTTP API v1 (`/fleet/v1`), field for field as fleet serves them,
/// so that fleet's own clients and scripts keep working. Empty optional fields are omitted, as in
/// fleet (a global unit has no `currentState` and no `machineID`).

/// One line of a unit file as the API carries it: `{"section":"Service","name":"ExecStart","value":"…"}`.
public struct APIUnitOption: Codable, Hashable, Sendable {
    public var section: String
    public var name: String
    public var value: String
    public init(section: String, name: String, value: String) {
        self.section = section
        self.name = name
        self.value = value
    }
}

/// `Unit`: `{"name","options","desiredState","currentState","machineID"}`.
public struct APIUnit: Codable, Hashable, Sendable {
    public var name: String
    public var options: [APIUnitOption]
    /// `inactive`, `loaded` or `launched`; nil only in a PUT that changes nothing but options.
    public var desiredState: String?
    /// Derived by the server; nil for global units.
    public var currentState: String?
    /// The machine the unit is scheduled to; nil when unscheduled or global.
    public var machineID: String?

    public init(
        name: String, options: [APIUnitOption], desiredState: String? = nil, currentState: String? = nil,
        machineID: String? = nil
    ) {
        self.name = name
        self.options = options
        self.desiredState = desiredState
        self.currentState = currentState
        self.machineID = machineID
    }

    private enum CodingKeys: String, CodingKey { case name, options, desiredState, currentState, machineID }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        options = try c.decodeIfPresent([APIUnitOption].self, forKey: .options) ?? []
        desiredState = try c.decodeIfPresent(String.self, forKey: .desiredState)
        currentState = try c.decodeIfPresent(String.self, forKey: .currentState)
        machineID = try c.decodeIfPresent(String.self, forKey: .machineID)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if !name.isEmpty { try c.encode(name, forKey: .name) }
        try c.encode(options, forKey: .options)
        if let desiredState, !desiredState.isEmpty { try c.encode(desiredState, forKey: .desiredState) }
        if let currentState, !currentState.isEmpty { try c.encode(currentState, forKey: .currentState) }
        if let machineID, !machineID.isEmpty { try c.encode(machineID, forKey: .machineID) }
    }
}

/// `Machine`: `{"id","primaryIP","metadata"}`.
public struct APIMachine: Codable, Hashable, Sendable {
    public var id: String
    public var primaryIP: String
    public var metadata: [String: String]
    public init(id: String, primaryIP: String, metadata: [String: String] = [:]) {
        self.id = id
        self.primaryIP = primaryIP
        self.metadata = metadata
    }

    private enum CodingKeys: String, CodingKey { case id, primaryIP, metadata }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        primaryIP = try c.decodeIfPresent(String.self, forKey: .primaryIP) ?? ""
        metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        if !primaryIP.isEmpty { try c.encode(primaryIP, forKey: .primaryIP) }
        if !metadata.isEmpty { try c.encode(metadata, forKey: .metadata) }
    }
}

/// `UnitState`: systemd's view of one unit on one machine.
public struct APIUnitState: Codable, Hashable, Sendable {
    public var name: String
    public var hash: String
    public var machineID: String
    public var systemdLoadState: String
    public var systemdActiveState: String
    public var systemdSubState: String
    public init(
        name: String, hash: String, machineID: String, systemdLoadState: String, systemdActiveState: String,
        systemdSubState: String
    ) {
        self.name = name
        self.hash = hash
        self.machineID = machineID
        self.systemdLoadState = systemdLoadState
        self.systemdActiveState = systemdActiveState
        self.systemdSubState = systemdSubState
    }
}

/// `PATCH /fleet/v1/machines` operation: `{"op":"add|replace|remove","path":"/<id>/metadata/<key>","value":{"value":"…"}}`.
public struct APIMachineMetadataOp: Codable, Hashable, Sendable {
    public struct Value: Codable, Hashable, Sendable {
        public var value: String
        public init(_ value: String) { self.value = value }
    }
    public var op: String
    public var path: String
    public var value: Value?
    public init(op: String, path: String, value: String? = nil) {
        self.op = op
        self.path = path
        self.value = value.map(Value.init)
    }
}

/// The error body: `{"error":{"code":404,"message":"unit does not exist"}}`.
public struct APIErrorBody: Codable, Hashable, Sendable {
    public struct Detail: Codable, Hashable, Sendable {
        public var code: Int
        public var message: String
    }
    public var error: Detail
    public init(code: Int, message: String) { error = Detail(code: code, message: message) }
}
