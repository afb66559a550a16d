/// The units of the registry in name order, cheap to page through: the small `job/` records of
/// every unit are read once, and the contents and published state only of the units asked for.
///
/// fleet re-read `job/`, `unit/` and `states/` in full for every API page; this reads one
/// directory plus a few keys per unit on the page.
public struct UnitListing: Sendable {
    /// Names of the units that have a job object, sorted.
    public let names: [String]
    /// Each unit's `job/<u>/*` leaves.
    let leaves: [String: [StoreNode]]
}

/// A unit as the API shows it: the stored unit and its derived current state.
public struct ResolvedUnit: Sendable, Hashable {
    public var stored: StoredUnit
    /// fleet's current state (`RegistrySnapshot.currentState` rule): meaningless for global units.
    public var currentState: FleetState
}

extension Registry {
    /// Lists unit names with one recursive read of `job/` (or of `job/<name>/` when `name` is given).
    public func unitListing(only name: String? = nil) async throws(RegistryError) -> UnitListing {
        let directory = name.map { keys.jobDirectory($0) } ?? keys.jobsDirectory
        let node = try await read(directory, name.map { "read unit \($0)" } ?? "list units").node
        var byUnit: [String: [StoreNode]] = [:]
        var named: [String] = []
        for leaf in node?.leaves ?? [] {
            switch keys.parse(leaf.key) {
            case .jobObject(let unit)?:
                named.append(unit)
                byUnit[unit, default: []].append(leaf)
            case .jobTargetState(let unit)?, .jobTarget(let unit)?, .jobHeartbeat(let unit)?:
                byUnit[unit, default: []].append(leaf)
            default: continue
            }
        }
        return UnitListing(names: named.sorted(), leaves: byUnit)
    }

    /// Reads the contents (one GET per distinct hash) and the target machine's published state (one
    /// GET per scheduled unit) of `names`, concurrently (``BoundedConcurrency``), and returns the readable ones in name order. Unreadable
    /// units are left out and reported in `problems`.
    public func resolveUnits(_ listing: UnitListing, names: some Sequence<String>) async throws(RegistryError)
        -> (units: [ResolvedUnit], problems: [RegistryError])
    {
        var leaves: [StoreNode] = []
        var hashes: [UnitHash] = []
        var stateKeys: [String] = []
        for name in names {
            let own = listing.leaves[name] ?? []
            leaves += own
            if let text = own.first(where: { $0.key == keys.jobObject(name) })?.value,
                let object = try? RegistryJSON.decode(JobObject.self, from: text), !hashes.contains(object.unitHash)
            {
                hashes.append(object.unitHash)
            }
            if let target = own.first(where: { $0.key == keys.jobTarget(name) })?.value {
                stateKeys.append(keys.unitState(name, machineID: target))
            }
        }
        // The page's keys are read concurrently: a page of 100 scheduled units was 100 store round
        // trips in a row (over HTTP on a worker), for every page of `fleetctl list-units` and of a
        // blocking `fleetctl start` of many units.
        let reads = hashes.map { (keys.unitBlob($0), "read unit contents \($0.hex)") }
            + stateKeys.map { ($0, "read unit state \($0)") }
        let nodes = await BoundedConcurrency.map(reads) { key, operation -> Result<StoreNode?, RegistryError> in
            do throws(RegistryError) { return .success(try await self.readKey(key, operation)) } catch { return .failure(error) }
        }
        for node in nodes {
            if let node = try node.get() { leaves.append(node) }
        }
        let contents = RegistryContents(leaves: leaves, keys: keys)
        let units = contents.units.map { unit in
            let published = unit.target.map { contents.publishedStates[unit.name]?.contains($0) ?? false } ?? false
            return ResolvedUnit(
                stored: unit,
                currentState: FleetState.current(
                    target: unit.target, targetPublishedState: published, heartbeat: unit.heartbeat))
        }
        return (units, contents.problems)
    }

    /// One key (not recursive), or nil when absent.
    func readKey(_ key: String, _ operation: String) async throws(RegistryError) -> StoreNode? {
        do {
            return try await store.get(key, recursive: false, quorum: false).node
        } catch {
            throw wrap(error, operation)
        }
    }
}
