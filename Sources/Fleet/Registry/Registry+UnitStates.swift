/// What agents publish about the units they run: systemd states and the "launched" heartbeat. All
/// carry the agent TTL, so a dead machine's reports vanish with it.
extension Registry {
    /// Publishes systemd's view of `unit` on `machineID`: `states/<u>/<m>` and fleet's legacy
    /// `state/<u>` (last writer wins), both with `ttl`. The two writes are independent and go out
    /// together: one store round trip per unit state instead of two in a row (a machine taking over a
    /// dead one's units publishes each of them at least once).
    public func publishUnitState(_ unitName: String, machineID: String, _ record: UnitStateRecord, ttl: Int)
        async throws(RegistryError)
    {
        let value = try encode(record, key: keys.unitState(unitName, machineID: machineID))
        do {
            async let state = store.set(
                keys.unitState(unitName, machineID: machineID), value: value, ttl: ttl, condition: .none)
            async let legacy = store.set(keys.legacyUnitState(unitName), value: value, ttl: ttl, condition: .none)
            _ = try await (state, legacy)
        } catch {
            throw wrap(error, "publish state of unit \(unitName) on machine \(machineID)")
        }
    }

    /// Withdraws `machineID`'s state for `unit`; the legacy key is removed only if it is this
    /// machine's (compare-and-delete on its index). Absent keys are not an error.
    public func removeUnitState(_ unitName: String, machineID: String) async throws(RegistryError) {
        do {
            do {
                try await store.delete(keys.unitState(unitName, machineID: machineID), recursive: false, condition: .none)
            } catch StoreClientError.keyNotFound {}
            let legacy = try await store.get(keys.legacyUnitState(unitName), recursive: false, quorum: false).node
            if let legacy, let value = legacy.value,
                (try? RegistryJSON.decode(UnitStateRecord.self, from: value))?.machineState?.id == machineID
            {
                do {
                    try await store.delete(keys.legacyUnitState(unitName), recursive: false,
                                           condition: .prevIndex(legacy.modifiedIndex))
                } catch StoreClientError.keyNotFound {} catch StoreClientError.compareFailed {}
            }
        } catch {
            throw wrap(error, "remove state of unit \(unitName) on machine \(machineID)")
        }
    }

    /// Published states, per machine, of `unit` (or of every unit when nil): unit → machine → record.
    public func unitStates(_ unitName: String? = nil) async throws(RegistryError)
        -> [String: [String: UnitStateRecord]]
    {
        let dir = unitName.map { keys.unitStatesDirectory($0) } ?? keys.unitStatesDirectory
        let node = try await read(dir, "list unit states").node
        var out: [String: [String: UnitStateRecord]] = [:]
        for leaf in node?.leaves ?? [] {
            guard case .unitState(let unit, let machine)? = keys.parse(leaf.key), let value = leaf.value,
                let record = try? RegistryJSON.decode(UnitStateRecord.self, from: value)
            else { continue }
            out[unit, default: [:]][machine] = record
        }
        return out
    }

    /// The legacy `state/<u>` record, or nil.
    public func legacyUnitState(_ unitName: String) async throws(RegistryError) -> UnitStateRecord? {
        let node = try await read(keys.legacyUnitState(unitName), "read legacy state of unit \(unitName)").node
        guard let value = node?.value else { return nil }
        do { return try RegistryJSON.decode(UnitStateRecord.self, from: value) } catch {
            throw .corruptRecord(key: keys.legacyUnitState(unitName), reason: "\(error)")
        }
    }

    /// Writes the "launched" heartbeat `job/<u>/job-state = machineID` with `ttl`.
    public func setHeartbeat(_ unitName: String, machineID: String, ttl: Int) async throws(RegistryError) {
        do {
            try await store.set(keys.jobHeartbeat(unitName), value: machineID, ttl: ttl, condition: .none)
        } catch {
            throw wrap(error, "heartbeat unit \(unitName) on machine \(machineID)")
        }
    }

    /// Renews the heartbeat's TTL without rewriting it, so no watcher wakes: every agent watches
    /// `job/`, and rewriting 10,000 heartbeats every republish woke each of them 10,000 times.
    /// Writes it afresh when it is gone or another machine's.
    public func renewHeartbeat(_ unitName: String, machineID: String, ttl: Int) async throws(RegistryError) {
        do {
            try await store.refresh(keys.jobHeartbeat(unitName), ttl: ttl, condition: .prevValue(machineID))
        } catch StoreClientError.keyNotFound {
            try await setHeartbeat(unitName, machineID: machineID, ttl: ttl)
        } catch StoreClientError.compareFailed {
            try await setHeartbeat(unitName, machineID: machineID, ttl: ttl)
        } catch {
            throw wrap(error, "renew heartbeat of unit \(unitName) on machine \(machineID)")
        }
    }

    /// Renews the TTLs of a state published before with this very record (a refresh wakes no
    /// watcher: the engine watches the whole prefix); writes whichever key is gone or differs.
    public func renewUnitState(_ unitName: String, machineID: String, _ record: UnitStateRecord, ttl: Int)
        async throws(RegistryError)
    {
        let value = try encode(record, key: keys.unitState(unitName, machineID: machineID))
        for key in [keys.unitState(unitName, machineID: machineID), keys.legacyUnitState(unitName)] {
            do {
                do {
                    try await store.refresh(key, ttl: ttl, condition: .prevValue(value))
                } catch StoreClientError.keyNotFound {
                    try await store.set(key, value: value, ttl: ttl, condition: .none)
                } catch StoreClientError.compareFailed {
                    try await store.set(key, value: value, ttl: ttl, condition: .none)
                }
            } catch {
                throw wrap(error, "renew state of unit \(unitName) on machine \(machineID)")
            }
        }
    }

    /// Clears the heartbeat if it is still `machineID`'s.
    public func clearHeartbeat(_ unitName: String, machineID: String) async throws(RegistryError) {
        do {
            try await store.delete(keys.jobHeartbeat(unitName), recursive: false, condition: .prevValue(machineID))
        } catch StoreClientError.keyNotFound {} catch StoreClientError.compareFailed {} catch {
            throw wrap(error, "clear heartbeat of unit \(unitName)")
        }
    }
}
