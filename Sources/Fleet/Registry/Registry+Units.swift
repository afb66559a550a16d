/// Units and their desired state: what the API writes.
extension Registry {
    /// Creates a unit: the content-addressed blob `unit/<hash>` (create-only; an existing blob is the
    /// same content), then `job/<u>/object` (create-only, which claims the name), then
    /// `job/<u>/target-state`. Readers treat a unit without a target-state as `inactive`, so a
    /// half-finished create never gets scheduled.
    public func createUnit(_ unit: RegistryUnit) async throws(RegistryError) {
        let name = unit.name.rawValue
        let object = try encode(unit.jobObject, key: keys.jobObject(name))
        try await storeBlob(of: unit)
        do {
            try await store.set(keys.jobObject(name), value: object, ttl: nil, condition: .mustNotExist)
        } catch StoreClientError.keyExists {
            let existing = try? await self.unit(name)
            throw .unitExists(name, hash: existing?.unit.hash)
        } catch {
            throw wrap(error, "create unit \(name)")
        }
        try await writeDesiredState(name, unit.desiredState)
    }

    /// Replaces the contents of an existing unit (fleet's `--replace`, an API `PUT` whose options hash
    /// differently): stores the new blob, rewrites `job/<u>/object` only if it still exists, then sets
    /// the desired state. The agent sees the new hash and reloads the unit.
    public func replaceUnit(_ unit: RegistryUnit) async throws(RegistryError) {
        let name = unit.name.rawValue
        let object = try encode(unit.jobObject, key: keys.jobObject(name))
        try await storeBlob(of: unit)
        do {
            try await store.set(keys.jobObject(name), value: object, ttl: nil, condition: .mustExist)
        } catch StoreClientError.keyNotFound {
            throw .unitNotFound(name)
        } catch {
            throw wrap(error, "replace unit \(name)")
        }
        try await writeDesiredState(name, unit.desiredState)
    }

    /// Writes the content-addressed `unit/<hash>` blob (create-only; an existing blob is the same
    /// content, shared with a template or an identical unit). Skipped when this registry wrote or
    /// met the same blob moments ago (``KnownBlobs``).
    func storeBlob(of unit: RegistryUnit) async throws(RegistryError) {
        let key = keys.unitBlob(unit.hash)
        if knownBlobs.contains(key) { return }
        let blob = try encode(unit.blob, key: key)
        do {
            try await store.set(key, value: blob, ttl: nil, condition: .mustNotExist)
        } catch StoreClientError.keyExists {
        } catch {
            throw wrap(error, "store contents of unit \(unit.name.rawValue)")
        }
        knownBlobs.insert(key)
    }

    /// Writes `job/<u>/target-state` (unconditionally: only the user writes it).
    func writeDesiredState(_ unitName: String, _ state: FleetState) async throws(RegistryError) {
        do {
            try await store.set(keys.jobTargetState(unitName), value: state.rawValue, ttl: nil, condition: .none)
        } catch {
            throw wrap(error, "set desired state of unit \(unitName)")
        }
    }

    /// Sets the desired state of an existing unit (validated: templates stay inactive).
    public func setDesiredState(_ unitName: String, to state: FleetState) async throws(RegistryError) {
        guard let stored = try await unit(unitName) else { throw .unitNotFound(unitName) }
        do throws(UnitValidationError) { try state.validate(for: stored.unit.name) } catch { throw .invalidUnit(unitName, error) }
        try await writeDesiredState(unitName, state)
    }

    /// Deletes the unit (`job/<u>/` with its target and heartbeat). The blob stays: other units may
    /// share it.
    public func destroyUnit(_ unitName: String) async throws(RegistryError) {
        do {
            try await store.delete(keys.jobDirectory(unitName), recursive: true, condition: .none)
        } catch StoreClientError.keyNotFound {
            throw .unitNotFound(unitName)
        } catch {
            throw wrap(error, "destroy unit \(unitName)")
        }
    }

    /// One unit with its desired state, schedule and heartbeat; nil when it does not exist.
    public func unit(_ unitName: String) async throws(RegistryError) -> StoredUnit? {
        guard let job = try await read(keys.jobDirectory(unitName), "read unit \(unitName)").node else { return nil }
        var leaves = job.leaves
        guard let objectText = leaves.first(where: { $0.key == keys.jobObject(unitName) })?.value else { return nil }
        let object: JobObject
        do { object = try RegistryJSON.decode(JobObject.self, from: objectText) } catch {
            throw .corruptRecord(key: keys.jobObject(unitName), reason: "\(error)")
        }
        if let blob = try await read(keys.unitBlob(object.unitHash), "read contents of unit \(unitName)").node {
            leaves.append(blob)
        }
        let contents = RegistryContents(leaves: leaves, keys: keys)
        if let unit = contents.units.first { return unit }
        throw contents.problems.first ?? .unitNotFound(unitName)
    }

    /// Every readable unit, sorted by name (two recursive GETs: `job/` and `unit/`). Unreadable ones
    /// are skipped; use ``snapshot(quorum:)`` to see them in ``RegistrySnapshot/problems``.
    public func units() async throws(RegistryError) -> [StoredUnit] {
        let jobs = try await read(keys.jobsDirectory, "list units").node
        let blobs = try await read(keys.unitBlobsDirectory, "list unit contents").node
        return RegistryContents(leaves: (jobs?.leaves ?? []) + (blobs?.leaves ?? []), keys: keys).units
    }

    // MARK: - Schedule (written by the engine only)

    /// Schedules `unit` on `machineID` by creating `job/<u>/target`; fails with
    /// ``RegistryError/alreadyScheduled(unit:machineID:)`` if it is scheduled already, so two
    /// engines can never both place it.
    public func schedule(_ unitName: String, on machineID: String) async throws(RegistryError) {
        do {
            try await store.set(keys.jobTarget(unitName), value: machineID, ttl: nil, condition: .mustNotExist)
        } catch StoreClientError.keyExists {
            let current = try? await store.get(keys.jobTarget(unitName), recursive: false, quorum: false).node?.value
            throw .alreadyScheduled(unit: unitName, machineID: current ?? nil)
        } catch {
            throw wrap(error, "schedule unit \(unitName) on machine \(machineID)")
        }
    }

    /// Unschedules `unit` from `machineID`: deletes `job/<u>/target` only if it still names that
    /// machine (compare-and-delete), so a stale decision cannot undo a newer placement.
    public func unschedule(_ unitName: String, from machineID: String) async throws(RegistryError) {
        try await whileScheduled(unitName, on: machineID, "unschedule unit \(unitName) from machine \(machineID)") {
            try await store.delete(keys.jobTarget(unitName), recursive: false, condition: .prevValue(machineID))
        }
    }

    /// Moves `unit` from `machineID` to `newMachineID` with one compare-and-swap of `job/<u>/target`:
    /// the end state of ``unschedule(_:from:)`` then ``schedule(_:on:)``, in one write and one watch
    /// event instead of two, so a dead machine's units move with half the writes and their new
    /// machines hear of each in a single event. Fails like the unschedule would when the target no
    /// longer names `machineID`.
    public func reschedule(_ unitName: String, from machineID: String, to newMachineID: String)
        async throws(RegistryError)
    {
        try await whileScheduled(unitName, on: machineID, "move unit \(unitName) from machine \(machineID) to \(newMachineID)") {
            try await store.set(keys.jobTarget(unitName), value: newMachineID, ttl: nil, condition: .prevValue(machineID))
        }
    }

    /// Runs a write of `job/<u>/target` conditioned on it still naming `machineID`, and turns the
    /// store's refusals into the registry's: no target is ``RegistryError/notScheduled(unit:)``,
    /// another machine ``RegistryError/scheduledElsewhere(unit:expected:)``.
    private func whileScheduled(
        _ unitName: String, on machineID: String, _ operation: String, _ write: () async throws -> Void
    ) async throws(RegistryError) {
        do {
            try await write()
        } catch StoreClientError.keyNotFound {
            throw .notScheduled(unit: unitName)
        } catch StoreClientError.compareFailed {
            throw .scheduledElsewhere(unit: unitName, expected: machineID)
        } catch {
            throw wrap(error, operation)
        }
    }

    /// The machine `unit` is scheduled on, or nil.
    public func target(of unitName: String) async throws(RegistryError) -> String? {
        do {
            return try await store.get(keys.jobTarget(unitName), recursive: false, quorum: false).node?.value
        } catch {
            throw wrap(error, "read schedule of unit \(unitName)")
        }
    }
}
