/// The engine's own copy of the plan-relevant part of the registry (machines, job objects, desired
/// states, schedule, unit blobs), kept current by applying the store's watch events in order.
///
/// Why: at 10,000 units a full read of the prefix (every state, heartbeat and blob) and its decode
/// cost about 0.5 s of CPU, and the engine did one per event-driven pass, so a burst of submissions
/// re-read the whole registry every second while planning a few hundred new units. With the model an
/// event pass reads nothing: each event updates one record and re-decodes only the unit it touches.
/// Every new tenure builds the model from one full quorum read; the periodic safety pass reads
/// everything again and compares it with the model (``divergence(from:)``), rebuilding the model
/// from that read if anything plan-relevant differs, so a lost or misapplied event cannot outlive
/// ``EngineConfiguration/safetyInterval``.
///
/// Decoding goes through the same functions as a full read (``RegistryContents``), so a unit is
/// interpreted identically either way; the model's ``snapshot()`` is what a full read at ``index``
/// would give, except that unit states and heartbeats (which never affect placement) are left out.
struct EngineModel: Sendable {
    let keys: RegistryKeyLayout
    /// The store index this model reflects (the full read's, then each applied event's).
    private(set) var index: UInt64

    // The records, each with the text it came from, so a full read can be compared with the model
    // (``divergence(from:)``) without decoding anything.
    private(set) var machineObjects: [String: DecodedRecord<MachineState>] = [:]
    private(set) var overrides: [String: [String: String]] = [:]
    private(set) var jobObjects: [String: DecodedRecord<JobObject>] = [:]
    private(set) var targetStates: [String: String] = [:]
    private(set) var targets: [String: String] = [:]
    private(set) var blobs: [String: String] = [:]
    /// Blob hash (hex) → units whose job object refers to it, to re-decode them when it changes.
    private var unitsByBlob: [String: Set<String>] = [:]
    /// Decoded units (target and heartbeat left out: the schedule is attached on output).
    private var decoded: [String: Result<RegistryUnit, RegistryError>] = [:]
    /// Units whose records changed since they were last decoded.
    private var dirty: Set<String> = []
    /// Unit names with a job object, sorted; nil when the set changed.
    private var sortedNames: [String]?
    /// Present machines, sorted; nil when a machine record changed.
    private var sortedMachines: [MachineState]?

    /// A model from the leaves of one full recursive read of the prefix at `index`.
    init(leaves: [StoreNode], index: UInt64, keys: RegistryKeyLayout) {
        self.keys = keys
        self.index = index
        for leaf in leaves {
            guard let value = leaf.value, let parsed = keys.parse(leaf.key) else { continue }
            record(parsed, key: leaf.key, value: value)
        }
        decodeChanged()
    }

    /// Applies one watch event; returns whether it can change a plan (machines, units, desired
    /// states, schedule, blobs), so the engine wakes only for those. The unit it touches is decoded
    /// again here, so taking a snapshot costs no decoding (and no time under the feed's lock).
    @discardableResult
    mutating func apply(_ event: StoreWatchEvent) -> Bool {
        defer { decodeChanged() }
        index = max(index, event.node.modifiedIndex)
        let key = event.node.key
        if event.isRemoval {
            if !event.node.dir, let parsed = keys.parse(key) { return record(parsed, key: key, value: nil) }
            return removeSubtree(key)
        }
        guard !event.node.dir, let value = event.node.value, let parsed = keys.parse(key) else { return false }
        return record(parsed, key: key, value: value)
    }

    /// Whether removing `key` (an event) takes a machine out: such an event must be acted on at once.
    func isMachineLoss(_ event: StoreWatchEvent) -> Bool {
        guard event.isRemoval else { return false }
        if case .machineObject = keys.parse(event.node.key) { return true }
        guard let parts = relativeParts(event.node.key) else { return false }
        return parts.isEmpty || parts.first == "machines" && parts.count <= 2
    }

    /// The schedule entry of `unit` (`job/<u>/target`), if any.
    func target(of unit: String) -> String? { targets[unit] }

    /// Whether `unit` has a job object (readable or not).
    func hasJob(_ unit: String) -> Bool { jobObjects[unit] != nil }

    /// The model as the engine plans from it. `publishedStates` is empty and units carry no
    /// heartbeat: neither affects placement, and the model does not follow them.
    mutating func snapshot() -> RegistrySnapshot {
        if sortedMachines == nil {
            sortedMachines = machineObjects.keys.sorted().compactMap { id in
                guard case .success(let state) = machineObjects[id]!.value else { return nil }
                return state.mergingMetadata(overrides[id] ?? [:])
            }
        }
        decodeChanged()
        if sortedNames == nil { sortedNames = jobObjects.keys.sorted() }
        var units: [StoredUnit] = []
        units.reserveCapacity(sortedNames!.count)
        var problems: [RegistryError] = []
        for id in machineObjects.keys.sorted() {
            if case .failure(let problem) = machineObjects[id]!.value { problems.append(problem) }
        }
        for name in sortedNames! {
            switch decoded[name] {
            case .success(let unit): units.append(StoredUnit(unit: unit, target: targets[name]))
            case .failure(let problem): problems.append(problem)
            case nil: continue
            }
        }
        var orphans: [String: String] = [:]
        for (unit, machine) in targets where jobObjects[unit] == nil { orphans[unit] = machine }
        return RegistrySnapshot(
            index: index, machines: sortedMachines!, units: units, publishedStates: [:], orphanTargets: orphans,
            problems: problems)
    }

    // MARK: - Records

    /// Records `value` for the leaf `parsed` (nil: the leaf was removed); returns whether it can change
    /// a plan.
    @discardableResult
    private mutating func record(_ parsed: RegistryKey, key: String, value: String?) -> Bool {
        switch parsed {
        case .machineObject(let id):
            machineObjects[id] = value.map {
                DecodedRecord(text: $0, value: RegistryContents.machineObject(id, text: $0, key: key))
            }
            sortedMachines = nil
        case .machineMetadata(let id, let name):
            if let value { overrides[id, default: [:]][name] = value } else { overrides[id]?[name] = nil }
            sortedMachines = nil
        case .jobObject(let unit):
            guard let value else {
                removeObject(of: unit)
                return true
            }
            forgetBlobLink(of: unit)
            if jobObjects[unit] == nil { sortedNames = nil }
            do {
                let object = try RegistryDecodeCache.shared.jobObject(value)
                jobObjects[unit] = DecodedRecord(text: value, value: .success(object))
                unitsByBlob[object.unitHash.hex, default: []].insert(unit)
            } catch {
                jobObjects[unit] = DecodedRecord(text: value, value: .failure(.corruptRecord(key: key, reason: "\(error)")))
            }
            dirty.insert(unit)
        case .jobTargetState(let unit):
            targetStates[unit] = value
            dirty.insert(unit)
        case .jobTarget(let unit): targets[unit] = value
        case .unitBlob(let hash):
            blobs[hash.hex] = value
            dirty.formUnion(unitsByBlob[hash.hex] ?? [])
        case .jobHeartbeat, .unitState, .legacyUnitState, .engineLease, .engineVersion: return false
        }
        return true
    }

    /// A directory removed (recursive delete or expiry): everything the model holds under it.
    private mutating func removeSubtree(_ key: String) -> Bool {
        guard let parts = relativeParts(key) else { return false }
        switch (parts.first, parts.count) {
        case (nil, _):
            self = EngineModel(leaves: [], index: index, keys: keys)
        case ("machines", 1):
            machineObjects = [:]
            overrides = [:]
            sortedMachines = nil
        case ("machines", 2):
            machineObjects[parts[1]] = nil
            overrides[parts[1]] = nil
            sortedMachines = nil
        case ("machines", 3) where parts[2] == "metadata":
            overrides[parts[1]] = nil
            sortedMachines = nil
        case ("job", 1):
            for unit in Array(jobObjects.keys) { removeObject(of: unit) }
            targetStates = [:]
            targets = [:]
        case ("job", 2):
            removeObject(of: parts[1])
            targetStates[parts[1]] = nil
            targets[parts[1]] = nil
        case ("unit", 1):
            blobs = [:]
            dirty.formUnion(jobObjects.keys)
        default:
            return false
        }
        return true
    }

    private mutating func removeObject(of unit: String) {
        forgetBlobLink(of: unit)
        if jobObjects.removeValue(forKey: unit) != nil { sortedNames = nil }
        decoded[unit] = nil
        dirty.remove(unit)
    }

    private mutating func forgetBlobLink(of unit: String) {
        guard case .success(let old) = jobObjects[unit]?.value else { return }
        let hex = old.unitHash.hex
        unitsByBlob[hex]?.remove(unit)
        if unitsByBlob[hex]?.isEmpty ?? false { unitsByBlob[hex] = nil }
    }

    /// Decodes the units whose records changed.
    private mutating func decodeChanged() {
        guard !dirty.isEmpty else { return }
        for name in dirty { decode(name) }
        dirty.removeAll(keepingCapacity: true)
    }

    private mutating func decode(_ name: String) {
        switch jobObjects[name]?.value {
        case nil: decoded[name] = nil
        case .failure(let problem): decoded[name] = .failure(problem)
        case .success(let object):
            decoded[name] = RegistryContents.storedUnit(
                name, object: object, blobs: blobs, targetState: targetStates[name], target: nil, heartbeat: nil,
                keys: keys
            ).map(\.unit)
        }
    }

    /// The path components of `key` below the prefix: empty for the prefix itself, nil outside it.
    private func relativeParts(_ key: String) -> [String]? {
        if key == String(keys.prefix.dropLast()) { return [] }
        guard key.hasPrefix(keys.prefix) else { return nil }
        return key.dropFirst(keys.prefix.count).split(separator: "/").map(String.init)
    }
}

/// A record of the model with the exact text it was decoded from.
struct DecodedRecord<Value: Sendable>: Sendable {
    let text: String
    let value: Result<Value, RegistryError>
}
