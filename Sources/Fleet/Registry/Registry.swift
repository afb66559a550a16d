/// fleet's registry: the typed records Fleet keeps in the store, under one ``RegistryKeyLayout``.
///
/// Every reader and writer of the keyspace (API, agent, engine) goes through this type, so the key
/// layout, the JSON encodings and the write conditions (create-only schedule, compare-and-delete
/// unschedule) live in one place. Its only state is ``KnownBlobs`` (which unit blobs need no create
/// attempt, shared by copies of one registry); any ``StoreClient`` works (etcd v2 over HTTP, or our
/// in-process store).
///
/// Errors are ``RegistryError``s naming the unit or machine; store failures are wrapped with the
/// operation that failed.
public struct Registry: Sendable {
    public let store: any StoreClient
    public let keys: RegistryKeyLayout
    let knownBlobs: KnownBlobs

    public init(store: any StoreClient, keys: RegistryKeyLayout = RegistryKeyLayout()) {
        self.store = store
        self.keys = keys
        self.knownBlobs = KnownBlobs()
    }

    // MARK: - Machines

    /// Announces a machine: creates `machines/<id>/object` with a TTL, failing if it exists (so two
    /// fleetds with one machine ID notice each other). Keep it alive with ``refreshMachine(_:ttl:)``.
    public func createMachine(_ state: MachineState, ttl: Int) async throws(RegistryError) {
        let value = try encode(state, key: keys.machineObject(state.id))
        do {
            try await store.set(keys.machineObject(state.id), value: value, ttl: ttl, condition: .mustNotExist)
        } catch StoreClientError.keyExists {
            throw .machineAlreadyPresent(state.id)
        } catch {
            throw wrap(error, "announce machine \(state.id)")
        }
    }

    /// Renews a machine's presence without rewriting it (and without waking watchers). Throws
    /// ``RegistryError/machineNotPresent(_:)`` when it already expired: create it again then.
    public func refreshMachine(_ machineID: String, ttl: Int) async throws(RegistryError) {
        do {
            try await store.refresh(keys.machineObject(machineID), ttl: ttl, condition: .mustExist)
        } catch StoreClientError.keyNotFound {
            throw .machineNotPresent(machineID)
        } catch {
            throw wrap(error, "refresh machine \(machineID)")
        }
    }

    /// Rewrites a present machine's record (its IP or metadata changed), resetting the TTL.
    public func updateMachine(_ state: MachineState, ttl: Int) async throws(RegistryError) {
        let value = try encode(state, key: keys.machineObject(state.id))
        do {
            try await store.set(keys.machineObject(state.id), value: value, ttl: ttl, condition: .mustExist)
        } catch StoreClientError.keyNotFound {
            throw .machineNotPresent(state.id)
        } catch {
            throw wrap(error, "update machine \(state.id)")
        }
    }

    /// Removes a machine's presence at once (graceful shutdown), so its units move without waiting
    /// for the TTL. Metadata overrides stay: they survive restarts.
    public func removeMachine(_ machineID: String) async throws(RegistryError) {
        do {
            try await store.delete(keys.machineObject(machineID), recursive: false, condition: .none)
        } catch StoreClientError.keyNotFound {
            throw .machineNotPresent(machineID)
        } catch {
            throw wrap(error, "remove machine \(machineID)")
        }
    }

    /// Sets a metadata override (`machines/<id>/metadata/<key>`, the API's PATCH). The machine need
    /// not be present.
    public func setMachineMetadata(_ machineID: String, key: String, value: String) async throws(RegistryError) {
        do {
            try await store.set(keys.machineMetadata(machineID, key: key), value: value, ttl: nil, condition: .none)
        } catch {
            throw wrap(error, "set metadata \(key) of machine \(machineID)")
        }
    }

    /// Removes a metadata key the way fleet does: an empty override hides the object's own value.
    public func removeMachineMetadata(_ machineID: String, key: String) async throws(RegistryError) {
        try await setMachineMetadata(machineID, key: key, value: "")
    }

    /// Present machines (their object has not expired), metadata overrides merged, sorted by ID.
    public func machines() async throws(RegistryError) -> [MachineState] {
        let node = try await read(keys.machinesDirectory, "list machines").node
        return RegistryContents(leaves: node?.leaves ?? [], keys: keys).machines
    }

    /// One present machine, or nil.
    public func machine(_ machineID: String) async throws(RegistryError) -> MachineState? {
        let node = try await read(keys.machineDirectory(machineID), "read machine \(machineID)").node
        return RegistryContents(leaves: node?.leaves ?? [], keys: keys).machines.first
    }

    // MARK: - Snapshot

    /// Everything the engine needs, read in **one** recursive GET of the prefix, so machines, units
    /// and schedule are mutually consistent at a single store index (fleet read four directories at
    /// four different moments). Watch from ``RegistrySnapshot/index`` + 1 to miss nothing.
    ///
    /// `quorum` (default) makes the read linearizable, so a new leader never plans from a stale
    /// follower's view.
    public func snapshot(quorum: Bool = true) async throws(RegistryError) -> RegistrySnapshot {
        let (node, index) = try await read(keys.prefix, "read registry snapshot", quorum: quorum)
        let contents = RegistryContents(leaves: node?.leaves ?? [], keys: keys)
        return RegistrySnapshot(contents: contents, index: index)
    }

    // MARK: - Helpers

    func read(_ key: String, _ operation: String, quorum: Bool = false) async throws(RegistryError)
        -> (node: StoreNode?, index: UInt64)
    {
        do {
            return try await store.get(key, recursive: true, quorum: quorum)
        } catch {
            throw wrap(error, operation)
        }
    }

    func encode<T: Encodable>(_ value: T, key: String) throws(RegistryError) -> String {
        do { return try RegistryJSON.encode(value) } catch {
            throw .corruptRecord(key: key, reason: "cannot encode: \(error)")
        }
    }

    func wrap(_ error: any Error, _ operation: String) -> RegistryError {
        if let e = error as? RegistryError { return e }
        if let e = error as? StoreClientError { return .store(operation: operation, e) }
        return .store(operation: operation, .malformedResponse(String(describing: error)))
    }
}
