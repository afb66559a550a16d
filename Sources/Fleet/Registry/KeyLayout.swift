/// Where fleet's registry lives in the etcd v2 keyspace, under a configurable prefix.
///
/// The layout is fleet v1.0.0's, so a fleetctl with `--driver=etcd` (or an old fleetd) reads the same
/// keys. Default prefix `/_coreos.com/fleet/` (`etcd_key_prefix`, `--etcd-key-prefix`).
///
/// | key | value | TTL | writer |
/// |---|---|---|---|
/// | `machines/<id>/object` | ``MachineState`` JSON | agent_ttl | each fleetd |
/// | `machines/<id>/metadata/<key>` | plain string; "" marks a deleted key | none | API PATCH |
/// | `job/<unit>/object` | ``JobObject`` JSON (hash as 20-number array) | none | API |
/// | `job/<unit>/target-state` | `inactive`/`loaded`/`launched` | none | API |
/// | `job/<unit>/target` | machine ID (create with prevExist=false) | none | engine |
/// | `job/<unit>/job-state` | machine ID: the "launched" heartbeat | agent_ttl | agent |
/// | `unit/<sha1hex>` | ``UnitBlob`` JSON `{"Raw":…}` (canonical text) | none | API |
/// | `states/<unit>/<machineID>` | ``UnitStateRecord`` JSON | agent_ttl | agent |
/// | `state/<unit>` | same JSON (legacy, last writer wins) | agent_ttl | agent |
/// | `lease/engine-leader` | ``EngineLease`` JSON | 5 × interval | engine |
/// | `engine/version` | `1` | none | engine |
public struct RegistryKeyLayout: Hashable, Sendable {
    /// fleet's default prefix.
    public static let defaultPrefix = "/_coreos.com/fleet/"

    /// The prefix, normalised to start and end with `/`.
    public let prefix: String

    /// A layout under `prefix` (a missing leading or trailing `/` is added).
    public init(prefix: String = RegistryKeyLayout.defaultPrefix) {
        var p = prefix
        if !p.hasPrefix("/") { p = "/" + p }
        if !p.hasSuffix("/") { p += "/" }
        self.prefix = p
    }

    // Directories (for recursive GETs and watches).
    public var machinesDirectory: String { prefix + "machines" }
    public var jobsDirectory: String { prefix + "job" }
    public var unitBlobsDirectory: String { prefix + "unit" }
    public var unitStatesDirectory: String { prefix + "states" }
    public var legacyStatesDirectory: String { prefix + "state" }

    public func machineDirectory(_ machineID: String) -> String { "\(machinesDirectory)/\(machineID)" }
    public func machineObject(_ machineID: String) -> String { "\(machineDirectory(machineID))/object" }
    public func machineMetadataDirectory(_ machineID: String) -> String { "\(machineDirectory(machineID))/metadata" }
    public func machineMetadata(_ machineID: String, key: String) -> String {
        "\(machineMetadataDirectory(machineID))/\(key)"
    }

    public func jobDirectory(_ unit: String) -> String { "\(jobsDirectory)/\(unit)" }
    public func jobObject(_ unit: String) -> String { "\(jobDirectory(unit))/object" }
    /// The desired state; only the user (API) writes it.
    public func jobTargetState(_ unit: String) -> String { "\(jobDirectory(unit))/target-state" }
    /// The machine the engine scheduled the unit on.
    public func jobTarget(_ unit: String) -> String { "\(jobDirectory(unit))/target" }
    /// The agent's "launched" heartbeat (value: machine ID).
    public func jobHeartbeat(_ unit: String) -> String { "\(jobDirectory(unit))/job-state" }

    public func unitBlob(_ hash: UnitHash) -> String { "\(unitBlobsDirectory)/\(hash.hex)" }

    public func unitStatesDirectory(_ unit: String) -> String { "\(unitStatesDirectory)/\(unit)" }
    public func unitState(_ unit: String, machineID: String) -> String { "\(unitStatesDirectory(unit))/\(machineID)" }
    public func legacyUnitState(_ unit: String) -> String { "\(legacyStatesDirectory)/\(unit)" }

    public var engineLease: String { prefix + "lease/engine-leader" }
    public var engineVersion: String { prefix + "engine/version" }

    /// Classifies a full key (e.g. from a watch event); nil for keys outside the layout.
    ///
    /// Every reader classifies every key of every read with it (an engine pass: all of the
    /// registry), so it splits on UTF-8 bytes into substrings and copies only the names it returns.
    public func parse(_ key: String) -> RegistryKey? {
        guard key.hasPrefix(prefix) else { return nil }
        let rest = key.utf8.dropFirst(prefix.utf8.count)
        var parts: [Substring] = []
        parts.reserveCapacity(4)
        var start = rest.startIndex
        while true {
            let end = rest[start...].firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            guard end > start, parts.count < 4 else { return nil }  // empty component, or too deep
            parts.append(Substring(rest[start..<end]))
            if end == rest.endIndex { break }
            start = rest.index(after: end)
            if start == rest.endIndex { return nil }  // trailing slash
        }
        func s(_ i: Int) -> String { String(parts[i]) }
        switch (parts[0], parts.count) {
        case ("machines", 3) where parts[2] == "object": return .machineObject(machineID: s(1))
        case ("machines", 4) where parts[2] == "metadata": return .machineMetadata(machineID: s(1), key: s(3))
        case ("job", 3):
            switch parts[2] {
            case "object": return .jobObject(unit: s(1))
            case "target-state": return .jobTargetState(unit: s(1))
            case "target": return .jobTarget(unit: s(1))
            case "job-state": return .jobHeartbeat(unit: s(1))
            default: return nil
            }
        case ("unit", 2): return UnitHash(hex: s(1)).map { .unitBlob($0) }
        case ("states", 3): return .unitState(unit: s(1), machineID: s(2))
        case ("state", 2): return .legacyUnitState(unit: s(1))
        case ("lease", 2) where parts[1] == "engine-leader": return .engineLease
        case ("engine", 2) where parts[1] == "version": return .engineVersion
        default: return nil
        }
    }
}

/// A key of the registry, classified by ``RegistryKeyLayout/parse(_:)``.
public enum RegistryKey: Hashable, Sendable {
    case machineObject(machineID: String)
    case machineMetadata(machineID: String, key: String)
    case jobObject(unit: String)
    case jobTargetState(unit: String)
    case jobTarget(unit: String)
    case jobHeartbeat(unit: String)
    case unitBlob(UnitHash)
    case unitState(unit: String, machineID: String)
    case legacyUnitState(unit: String)
    case engineLease
    case engineVersion
}
