import Foundation

/// fleet's three unit states, used both for the desired state (`job/<u>/target-state`, written by the
/// user) and the derived current state. `inactive`: known, not placed; `loaded`: placed and loaded into
/// systemd there; `launched`: loaded and started.
public enum FleetState: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    case inactive, loaded, launched

    /// Parses a desired state from the API or the store, refusing anything else.
    ///
    /// fleet accepted any string on update and then could no longer list the unit (its bug 6).
    public init(validating text: String) throws(UnitValidationError) {
        guard let state = FleetState(rawValue: text) else { throw .invalidDesiredState(text) }
        self = state
    }

    /// Templates may only be `inactive` (fleet: `cannot activate template "web@.service"`).
    public func validate(for name: UnitName) throws(UnitValidationError) {
        if name.isTemplate && self != .inactive { throw .cannotActivateTemplate(name.rawValue) }
    }

    /// Derives the current state the way fleet does at read time: `inactive` unless scheduled and the
    /// target machine published a state for the unit; `launched` if also the heartbeat names the target.
    public static func current(target: String?, targetPublishedState: Bool, heartbeat: String?) -> FleetState {
        guard let target, targetPublishedState else { return .inactive }
        return heartbeat == target ? .launched : .loaded
    }

    private var rank: Int { self == .inactive ? 0 : self == .loaded ? 1 : 2 }
    public static func < (lhs: FleetState, rhs: FleetState) -> Bool { lhs.rank < rhs.rank }
}

/// Anything that makes a unit unacceptable to the registry, with a message for the API's 400 answer.
public enum UnitValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    case name(UnitNameError)
    case file(UnitFileError)
    case xFleet(XFleetError)
    case invalidDesiredState(String)
    case cannotActivateTemplate(String)

    public var description: String {
        switch self {
        case .name(let e): return e.description
        case .file(let e): return e.description
        case .xFleet(let e): return e.description
        case .invalidDesiredState(let s):
            return "invalid desiredState \"\(s)\"; expected inactive, loaded or launched"
        case .cannotActivateTemplate(let name): return "cannot activate template \"\(name)\""
        }
    }
}

/// A unit as the registry holds it: name, contents, desired state, and its parsed constraints.
/// Building one validates everything, so a stored unit is always schedulable-or-explainable.
public struct RegistryUnit: Hashable, Sendable {
    public let name: UnitName
    public let file: UnitFile
    public var desiredState: FleetState
    /// Parsed `[X-Fleet]` section.
    public let options: XFleetOptions

    /// Validates name, constraints and desired state together (the API's create path).
    public init(name: String, file: UnitFile, desiredState: FleetState) throws(UnitValidationError) {
        let unitName: UnitName
        do { unitName = try UnitName(name) } catch { throw .name(error) }
        try desiredState.validate(for: unitName)
        do { self.options = try XFleetOptions(unit: file, name: unitName) } catch { throw .xFleet(error) }
        self.name = unitName
        self.file = file
        self.desiredState = desiredState
    }

    /// Parses `text` and validates it as unit `name`.
    public init(name: String, text: String, desiredState: FleetState) throws(UnitValidationError) {
        let file: UnitFile
        do { file = try UnitFile(parsing: text) } catch { throw .file(error) }
        try self.init(name: name, file: file, desiredState: desiredState)
    }

    /// An instance of this template (`web@.service` → `web@<instance>.service`) with the template's
    /// contents, validated under the instance's own name (so `%i` and `%p` resolve for it). fleetctl
    /// did this client-side; the API can do it server-side.
    public func instantiate(_ instance: String, desiredState: FleetState) throws(UnitValidationError) -> RegistryUnit {
        guard name.isTemplate else { throw .name(.notATemplate(name: name.rawValue)) }
        let instanceName: UnitName
        do { instanceName = try name.instantiated(instance) } catch { throw .name(error) }
        return try RegistryUnit(name: instanceName.rawValue, file: file, desiredState: desiredState)
    }

    /// The content hash (shared by a template and its instances).
    public var hash: UnitHash { file.hash }
    /// The `job/<unit>/object` record.
    public var jobObject: JobObject { JobObject(name: name.rawValue, unitHash: hash, originalText: file.originalText) }
    /// The `unit/<hash>` record.
    public var blob: UnitBlob { UnitBlob(raw: file.serialized) }
}

/// `machines/<id>/object`: a machine's presence record, in fleet's JSON
/// (`{"ID","PublicIP","Metadata","Capabilities","Version"}`).
///
/// Three optional fields are ours and omitted when nil (fleet ignores unknown fields): `Hostname`
/// (for the `%H` specifier), `Capacity` (a cap on the units the scheduler places there) and `APIURL`
/// (where this machine's fleetd serves the HTTP API over TCP, so other fleetds can forward unit
/// status and journal requests to the agent that runs the unit).
public struct MachineState: Hashable, Sendable, Codable {
    public var id: String
    public var publicIP: String
    public var metadata: [String: String]?
    public var capabilities: [String: Bool]?
    public var version: String
    public var hostname: String?
    public var capacity: Int?
    /// `http://host:port` of this machine's TCP API listener, when it has one.
    public var apiURL: String?

    public init(
        id: String, publicIP: String = "", metadata: [String: String]? = nil, capabilities: [String: Bool]? = nil,
        version: String = "", hostname: String? = nil, capacity: Int? = nil, apiURL: String? = nil
    ) {
        self.id = id
        self.publicIP = publicIP
        self.metadata = metadata
        self.capabilities = capabilities
        self.version = version
        self.hostname = hostname
        self.capacity = capacity
        self.apiURL = apiURL
    }

    /// fleet's short ID: the first 8 characters.
    public var shortID: String { String(id.prefix(8)) }

    /// Applies `machines/<id>/metadata/<key>` overrides: a value replaces the object's, "" deletes it.
    public func mergingMetadata(_ overrides: [String: String]) -> MachineState {
        guard !overrides.isEmpty else { return self }
        var copy = self
        var merged = metadata ?? [:]
        for (key, value) in overrides {
            if value.isEmpty { merged.removeValue(forKey: key) } else { merged[key] = value }
        }
        copy.metadata = merged
        return copy
    }

    private enum CodingKeys: String, CodingKey {
        case id = "ID", publicIP = "PublicIP", metadata = "Metadata", capabilities = "Capabilities"
        case version = "Version", hostname = "Hostname", capacity = "Capacity", apiURL = "APIURL"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        publicIP = try c.decodeIfPresent(String.self, forKey: .publicIP) ?? ""
        metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata)
        capabilities = try c.decodeIfPresent([String: Bool].self, forKey: .capabilities)
        version = try c.decodeIfPresent(String.self, forKey: .version) ?? ""
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        capacity = try c.decodeIfPresent(Int.self, forKey: .capacity)
        apiURL = try c.decodeIfPresent(String.self, forKey: .apiURL)
    }

    /// Encodes fleet's fields; nil Metadata/Capabilities become `null` as fleet writes them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(publicIP, forKey: .publicIP)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(capabilities, forKey: .capabilities)
        try c.encode(version, forKey: .version)
        try c.encodeIfPresent(hostname, forKey: .hostname)
        try c.encodeIfPresent(capacity, forKey: .capacity)
        try c.encodeIfPresent(apiURL, forKey: .apiURL)
    }
}

/// `job/<unit>/object`: `{"Name":"hello.service","UnitHash":[229,92,…]}`.
///
/// `OriginalText` is ours and omitted when nil (fleet ignores it): the file as the user submitted it,
/// so `fleetctl cat` can show it, whereas the content-addressed `unit/<hash>` blob holds the canonical
/// text shared by every unit with the same options.
public struct JobObject: Hashable, Sendable, Codable {
    public var name: String
    public var unitHash: UnitHash
    public var originalText: String?
    public init(name: String, unitHash: UnitHash, originalText: String? = nil) {
        self.name = name
        self.unitHash = unitHash
        self.originalText = originalText
    }
    private enum CodingKeys: String, CodingKey {
        case name = "Name", unitHash = "UnitHash", originalText = "OriginalText"
    }
}

/// `unit/<sha1hex>`: `{"Raw":"[Unit]\n…"}`, the canonical text (``UnitFile/serialized``).
public struct UnitBlob: Hashable, Sendable, Codable {
    public var raw: String
    public init(raw: String) { self.raw = raw }
    /// Parses the stored text back into a unit.
    public func unitFile() throws(UnitFileError) -> UnitFile { try UnitFile(parsing: raw) }
    private enum CodingKeys: String, CodingKey { case raw = "Raw" }
}

/// `states/<unit>/<machineID>` (and legacy `state/<unit>`): systemd's view of a unit on one machine.
public struct UnitStateRecord: Hashable, Sendable, Codable {
    public var loadState: String
    public var activeState: String
    public var subState: String
    public var machineState: MachineState?
    /// 40 hex digits of the unit hash the agent loaded.
    public var unitHash: String

    public init(
        loadState: String, activeState: String, subState: String, machineState: MachineState?, unitHash: String
    ) {
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
        self.machineState = machineState
        self.unitHash = unitHash
    }
}

/// `lease/engine-leader`: `{"MachineID":"…","Version":1}`.
public struct EngineLease: Hashable, Sendable, Codable {
    public var machineID: String
    public var version: Int
    public init(machineID: String, version: Int = 1) {
        self.machineID = machineID
        self.version = version
    }
    private enum CodingKeys: String, CodingKey { case machineID = "MachineID", version = "Version" }
}

/// JSON for registry values, compatible with fleet's encodings.
public enum RegistryJSON {
    /// Encodes `value` as compact JSON text with sorted keys (deterministic bytes, so an unchanged
    /// value compares equal in a compare-and-swap) and unescaped slashes. Field order differs from
    /// Go's struct order, which JSON readers (fleet's included) ignore.
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes `type` from JSON text.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
