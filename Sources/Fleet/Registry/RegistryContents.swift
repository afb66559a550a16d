/// Decodes the leaves of one or more registry subtrees into typed records.
///
/// Shared by every reader (snapshot, unit and machine listings), so a record is interpreted the same
/// way everywhere. Unreadable records are skipped and reported in ``problems`` rather than failing
/// the whole read: one corrupt unit must not stop the engine from scheduling the others (and the
/// scheduler never touches a unit it was not given).
struct RegistryContents {
    var machines: [MachineState] = []
    var units: [StoredUnit] = []
    /// unit → machines that published a state for it (`states/<u>/<m>`); values not decoded.
    var publishedStates: [String: Set<String>] = [:]
    /// `job/<u>/target` entries whose unit has no `job/<u>/object` (destroyed after scheduling).
    var orphanTargets: [String: String] = [:]
    var problems: [RegistryError] = []
    /// Every `job/<u>/target`, readable unit or not.
    var allTargets: [String: String] = [:]
    /// Units that have a job object but could not be read (their records are in ``problems``).
    var unreadableUnits: Set<String> = []

    init(leaves: [StoreNode], keys: RegistryKeyLayout) {
        var objects: [String: MachineState] = [:]
        var overrides: [String: [String: String]] = [:]
        var jobObjects: [String: JobObject] = [:]
        // Units with an object key, readable or not: a corrupt object must not make its target an orphan.
        var withObject: Set<String> = []
        var targetStates: [String: String] = [:]
        var targets: [String: String] = [:]
        var heartbeats: [String: String] = [:]
        var blobs: [String: String] = [:]

        for leaf in leaves {
            guard let parsed = keys.parse(leaf.key), let value = leaf.value else { continue }
            switch parsed {
            case .machineObject(let id):
                do {
                    var state = try RegistryJSON.decode(MachineState.self, from: value)
                    state.id = id
                    objects[id] = state
                } catch {
                    problems.append(.corruptRecord(key: leaf.key, reason: "\(error)"))
                }
            case .machineMetadata(let id, let key): overrides[id, default: [:]][key] = value
            case .jobObject(let unit):
                withObject.insert(unit)
                do { jobObjects[unit] = try RegistryDecodeCache.shared.jobObject(value) } catch {
                    problems.append(.corruptRecord(key: leaf.key, reason: "\(error)"))
                }
            case .jobTargetState(let unit): targetStates[unit] = value
            case .jobTarget(let unit): targets[unit] = value
            case .jobHeartbeat(let unit): heartbeats[unit] = value
            case .unitBlob(let hash): blobs[hash.hex] = value
            case .unitState(let unit, let machineID): publishedStates[unit, default: []].insert(machineID)
            case .legacyUnitState, .engineLease, .engineVersion: continue
            }
        }

        machines = objects.keys.sorted().map { id in objects[id]!.mergingMetadata(overrides[id] ?? [:]) }

        // Blobs and texts decoded by earlier reads are reused (``RegistryDecodeCache``).
        for name in jobObjects.keys.sorted() {
            let object = jobObjects[name]!
            let hex = object.unitHash.hex
            let blobKey = keys.unitBlob(object.unitHash)
            guard let text = blobs[hex] else {
                problems.append(.corruptRecord(key: blobKey, reason: "unit \(name) refers to a missing unit blob"))
                continue
            }
            // The text as submitted (kept for `cat`) is preferred when it is the same unit.
            let chosen: UnitFile
            do {
                chosen = try RegistryDecodeCache.shared.unitFile(blob: text, original: object.originalText,
                                                                 hash: object.unitHash)
            } catch {
                problems.append(.corruptRecord(key: blobKey, reason: "\(error)"))
                continue
            }
            do throws(UnitValidationError) {
                let desired = try targetStates[name].map { text throws(UnitValidationError) in
                    try FleetState(validating: text)
                } ?? .inactive
                let unit = try RegistryUnit(name: name, file: chosen, desiredState: desired)
                units.append(StoredUnit(unit: unit, target: targets[name], heartbeat: heartbeats[name]))
            } catch {
                problems.append(.invalidUnit(name, error))
            }
        }
        for (unit, machine) in targets where !withObject.contains(unit) { orphanTargets[unit] = machine }
        allTargets = targets
        unreadableUnits = withObject.subtracting(units.map(\.name))
    }
}
