extension Scheduler.Planner {
    // MARK: - Checks

    /// Options of unit `u` as they apply on machine `m` (resolving `%m`/`%H`); nil if invalid there.
    mutating func options(_ u: Int, _ m: Int) -> XFleetOptions? {
        guard opts[u].isMachineDependent else { return opts[u] }
        let key = u &* machineIDs.count &+ m
        if let cached = resolved[key] { return cached }
        let r = try? opts[u].resolved(machineID: machineIDs[m], hostname: machineHost[m])
        resolved[key] = r
        return r
    }

    /// The machines satisfying unit `u`'s (machine-independent) metadata, computed once per unit.
    mutating func unitMetadataSet(_ u: Int) -> Scheduler.MachineBitset {
        if let cached = unitMeta[u] { return cached }
        let set = metadataSet(opts[u].machineMetadata)
        unitMeta[u] = set
        return set
    }

    mutating func metadataSet(_ reqs: [MetadataRequirement]) -> Scheduler.MachineBitset {
        if let cached = metaCache[reqs] { return cached }
        var result = Scheduler.MachineBitset(count: machineIDs.count, full: true)
        for req in reqs {
            var any = Scheduler.MachineBitset(count: machineIDs.count)
            for v in req.values { if let s = metaIndex[req.key]?[v] { any.formUnion(s) } }
            result.formIntersection(any)
        }
        metaCache[reqs] = result
        return result
    }

    /// Whether unit `u` may be (or stay) on machine `m`; nil when it may.
    mutating func check(_ u: Int, _ m: Int, newPlacement: Bool) -> Scheduler.Rejection? {
        guard let o = options(u, m) else { return .invalid("a %m/%H value is invalid there") }
        if !o.acceptsMachineID(machineIDs[m]) { return .machineID }
        if !o.machineMetadata.isEmpty {
            if o.isMachineDependent || opts[u].isMachineDependent {
                if !o.acceptsMetadata(machineMeta[m]) { return .metadata }
            } else if !unitMetadataSet(u).contains(m) {
                return .metadata
            }
        }
        if newPlacement, let cap = machineCap[m], load[m] >= cap { return .capacity }
        for p in o.machineOf {
            guard let pi = unitIndex[p], active[pi] else { return .peer(p) }
            if global[pi] {
                if globalsComputed {
                    if !globalsOn[m].contains(pi) { return .peer(p) }
                } else if !(options(pi, m)?.acceptsMetadata(machineMeta[m]) ?? false) {
                    return .peer(p)
                }
            } else if placement[pi] != m {
                return .peer(p)
            }
        }
        if let v = conflictOn(u, o, m) { return .conflict(v) }
        for v in holdersOn[m] where v != u {
            guard let vo = options(v, m), vo.replaces(names[u]) else { continue }
            if !o.replaces(names[v]) { return .replacedBy(v) }
        }
        return nil
    }

    /// A unit on `m` that conflicts with `u` (either direction), if any.
    mutating func conflictOn(_ u: Int, _ o: XFleetOptions, _ m: Int) -> Int? {
        if !o.conflicts.isEmpty {
            for v in unitsOn[m] where v != u && o.conflicts(with: names[v]) { return v }
            for v in globalsOn[m] where v != u && o.conflicts(with: names[v]) { return v }
        }
        for v in holdersOn[m] where v != u {
            if let vo = options(v, m), vo.conflicts(with: names[u]) { return v }
        }
        return nil
    }

    /// Whether a unit scheduled on `m` replaces global unit `g` (the global then yields there).
    mutating func replacedOn(_ g: Int, _ m: Int) -> Bool {
        for v in holdersOn[m] where v != g && !global[v] {
            if let vo = options(v, m), vo.replaces(names[g]) { return true }
        }
        return false
    }

    /// Global units on `m` yield to a newly placed unit that replaces them; so do units there that
    /// were on `m` only as their MachineOf peer.
    mutating func yieldGlobals(to u: Int, _ m: Int) {
        guard let o = options(u, m), !o.replaces.isEmpty else { return }
        let yielding = globalsOn[m].filter { o.replaces(names[$0]) }
        for g in yielding {
            globalsOn[m].removeAll { $0 == g }
            holdersOn[m].removeAll { $0 == g }
            load[m] -= 1
            if orderBuilt { moveLeft(m) }
            for d in unitsOn[m] where options(d, m)?.machineOf.contains(names[g]) == true {
                unschedule(d, machineIDs[m], .peerNotLocal(names[g]))
                remove(d)
                enqueue(d)
            }
        }
    }

    /// Units on `m` that `u` replaces (mutual Replaces ignored).
    mutating func toDisplace(_ u: Int, _ m: Int) -> [Int] {
        guard let o = options(u, m), !o.replaces.isEmpty else { return [] }
        var out: [Int] = []
        for v in unitsOn[m] where v != u && o.replaces(names[v]) {
            if let vo = options(v, m), vo.replaces(names[u]) { continue }
            out.append(v)
        }
        return out
    }

}
