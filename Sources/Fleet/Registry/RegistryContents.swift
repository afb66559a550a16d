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
                switch Self.machineObject(id, text: value, key: leaf.key) {
                case .success(let state): objects[id] = state
                case .failure(let problem): problems.append(problem)
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
            switch Self.storedUnit(
                name, object: jobObjects[name]!, blobs: blobs, targetState: targetStates[name], target: targets[name],
                heartbeat: heartbeats[name], keys: keys)
            {
            case .success(let unit): units.append(unit)
            case .failure(let problem): problems.append(problem)
            }
        }
        for (unit, machine) in targets where !withObject.contains(unit) { orphanTargets[unit] = machine }
        allTargets = targets
        unreadableUnits = withObject.subtracting(units.map(\.name))
    }

    /// One unit from its records: the job object, its blob (looked up in `blobs` by hash hex), the
    /// desired state text and the schedule. Shared with the engine's incremental model
    /// (``EngineModel``) so a unit is read the same way whether it came from a full read or a watch.
    static func storedUnit(
        _ name: String, object: JobObject, blobs: [String: String], targetState: String?, target: String?,
        heartbeat: String?, keys: RegistryKeyLayout
    ) -> Result<StoredUnit, RegistryError> {
        let blobKey = keys.unitBlob(object.unitHash)
        guard let text = blobs[object.unitHash.hex] else {
            return .failure(.corruptRecord(key: blobKey, reason: "unit \(name) refers to a missing unit blob"))
        }
        // The text as submitted (kept for `cat`) is preferred when it is the same unit.
        let chosen: UnitFile
        do {
            chosen = try RegistryDecodeCache.shared.unitFile(blob: text, original: object.originalText,
                                                             hash: object.unitHash)
        } catch {
            return .failure(.corruptRecord(key: blobKey, reason: "\(error)"))
        }
        do throws(UnitValidationError) {
            let desired = try targetState.map { text throws(UnitValidationError) in
                try FleetState(validating: text)
            } ?? .inactive
            let unit = try RegistryUnit(name: name, file: chosen, desiredState: desired)
            return .success(StoredUnit(unit: unit, target: target, heartbeat: heartbeat))
        } catch {
            return .failure(.invalidUnit(name, error))
        }
    }

    /// A machine object (`machines/<id>/object`) decoded, its ID taken from the key.
    static func machineObject(_ id: String, text: String, key: String) -> Result<MachineState, RegistryError> {
        do {
            var state = try RegistryJSON.decode(MachineState.self, from: text)
            state.id = id
            return .success(state)
        } catch {
            return .failure(.corruptRecord(key: key, reason: "\(error)"))
        }
    }
}
