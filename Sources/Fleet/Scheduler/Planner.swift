extension Scheduler {
    /// The working state of one ``Scheduler/plan(machines:units:schedule:)`` call: integer indices for
    /// machines (sorted by ID) and units (sorted by name), per-machine unit lists, loads, a load order kept
    /// sorted incrementally, and a metadata index of bitsets so constrained units skip machines cheaply.
    struct Planner {
        // Machines, sorted by ID: index order is ID order, which makes tie-breaks free.
        let machineIDs: [String]
        let machineMeta: [[String: String]]
        let machineHost: [String?]
        let machineCap: [Int?]
        let machinePresent: [Bool]
        var machineIndex: [String: Int] = [:]
        var shortIndex: [String: [Int]] = [:]
        var metaIndex: [String: [String: MachineBitset]] = [:]
        var metaCache: [[MetadataRequirement]: MachineBitset] = [:]
        var unitMeta: [MachineBitset?] = []

        // Units, sorted by name.
        let names: [String]
        let opts: [XFleetOptions]
        let active: [Bool]
        let global: [Bool]
        let template: [Bool]
        let holder: [Bool]
        var unitIndex: [String: Int] = [:]
        var depth: [Int]
        var inCycle: [Bool]
        var dependents: [[Int]]

        // Placement state.
        var placement: [Int]
        var unitsOn: [[Int]]
        var globalsOn: [[Int]]
        var holdersOn: [[Int]]
        var load: [Int]
        var order: [Int] = []
        var position: [Int] = []
        var orderBuilt = false
        var globalsComputed = false
        var resolved: [Int: XFleetOptions?] = [:]
        var displaced = Set<Int>()
        var queue: [Int] = []
        /// How many times each unit is still waiting in `queue`.
        var queued: [Int] = []

        var decisions: [Decision] = []

        init(machines: [SchedulerMachine], units: [SchedulerUnit]) {
            var byID: [String: SchedulerMachine] = [:]
            for m in machines { byID[m.id] = m }
            let ms = byID.values.sorted { $0.id < $1.id }
            machineIDs = ms.map(\.id)
            machineMeta = ms.map(\.metadata)
            machineHost = ms.map(\.hostname)
            machineCap = ms.map(\.capacity)
            machinePresent = ms.map { $0.presence == .present }
            for (i, m) in ms.enumerated() {
                machineIndex[m.id] = i
                shortIndex[String(m.id.prefix(8)), default: []].append(i)
                for (k, v) in m.metadata {
                    metaIndex[k, default: [:]][v, default: MachineBitset(count: ms.count)].insert(i)
                }
            }

            // Sort indices, not the (large) unit values; the last of duplicate names wins.
            var lastIndex: [String: Int] = [:]
            for (i, u) in units.enumerated() { lastIndex[u.name.rawValue] = i }
            let us = lastIndex.sorted { $0.key < $1.key }.map { units[$0.value] }
            names = us.map(\.name.rawValue)
            opts = us.map(\.options)
            active = us.map { $0.desiredState != .inactive }
            global = us.map(\.options.isGlobal)
            template = us.map(\.name.isTemplate)
            holder = us.map { !$0.options.conflicts.isEmpty || !$0.options.replaces.isEmpty || $0.options.isMachineDependent }
            for (i, n) in names.enumerated() { unitIndex[n] = i }

            unitMeta = [MachineBitset?](repeating: nil, count: us.count)
            placement = [Int](repeating: -1, count: us.count)
            unitsOn = [[Int]](repeating: [], count: ms.count)
            globalsOn = [[Int]](repeating: [], count: ms.count)
            holdersOn = [[Int]](repeating: [], count: ms.count)
            load = [Int](repeating: 0, count: ms.count)
            depth = [Int](repeating: -1, count: us.count)
            inCycle = [Bool](repeating: false, count: us.count)
            dependents = [[Int]](repeating: [], count: us.count)
            computeDepths()
        }

        /// Placement of a unit held on a vanished machine: not on any machine we know, but not to be placed.
        static let heldPlacement = -2

        /// MachineOf depth (peers before dependants) and cycle membership, iteratively.
        mutating func computeDepths() {
            var peerLists = [[Int]](repeating: [], count: names.count)
            for u in names.indices {
                for p in opts[u].machineOf {
                    if let pi = unitIndex[p], !global[pi] {
                        peerLists[u].append(pi)
                        dependents[pi].append(u)
                    }
                }
            }
            // 0 = unvisited, 1 = on stack, 2 = done
            var mark = [UInt8](repeating: 0, count: names.count)
            for start in names.indices where mark[start] == 0 {
                var stack: [(Int, Int)] = [(start, 0)]
                mark[start] = 1
                while let (u, next) = stack.last {
                    if next < peerLists[u].count {
                        stack[stack.count - 1].1 += 1
                        let p = peerLists[u][next]
                        if mark[p] == 0 {
                            mark[p] = 1
                            stack.append((p, 0))
                        } else if mark[p] == 1 {
                            // Everything on the stack from p upwards is in a cycle.
                            var k = stack.count - 1
                            while k >= 0 {
                                inCycle[stack[k].0] = true
                                if stack[k].0 == p { break }
                                k -= 1
                            }
                        }
                    } else {
                        stack.removeLast()
                        mark[u] = 2
                        var d = 0
                        for p in peerLists[u] {
                            if inCycle[p] {
                                inCycle[u] = true
                            } else {
                                d = max(d, depth[p] + 1)
                            }
                        }
                        depth[u] = inCycle[u] ? Int.max : d
                    }
                }
            }
        }

        // MARK: - The pass

        mutating func run(schedule: [String: String], policy: Scheduler.PlanPolicy) {
            // Machines named in the schedule that vanished: too many at once looks like a store problem.
            var vanished = Set<String>()
            var named = Set<String>()
            for (name, machineID) in schedule where unitIndex[name] != nil {
                named.insert(machineID)
                if machineIndex[machineID] == nil { vanished.insert(machineID) }
            }
            var held = Set<String>()
            if let fraction = policy.massLossFraction, vanished.count >= 2,
                Double(vanished.count) > fraction * Double(named.count)
            {
                held = vanished
            }

            // Pass 1: keep every existing placement that is still valid.
            var kept: [(u: Int, m: Int)] = []
            for name in schedule.keys.sorted() {
                guard let u = unitIndex[name] else { continue }  // not ours to touch
                let machineID = schedule[name]!
                if held.contains(machineID), active[u], !global[u], !template[u] {
                    placement[u] = Self.heldPlacement
                    decisions.append(Decision(
                        unit: name, action: .hold(machineID: machineID),
                        reason: .massMachineLoss(lost: vanished.count, known: named.count)))
                    continue
                }
                if global[u] { unschedule(u, machineID, .globalUnit); continue }
                if template[u] { unschedule(u, machineID, .template); continue }
                if !active[u] { unschedule(u, machineID, .desiredInactive); continue }
                guard let m = machineIndex[machineID] else { unschedule(u, machineID, .machineGone); continue }
                kept.append((u, m))
            }
            kept.sort { (depth[$0.u], $0.u) < (depth[$1.u], $1.u) }
            for (u, m) in kept {
                if let rejection = check(u, m, newPlacement: false) {
                    unschedule(u, machineIDs[m], reason(for: rejection, unit: u))
                    continue
                }
                for v in toDisplace(u, m) { displace(v, by: u) }
                place(u, m)
            }

            computeGlobals()
            order = Array(machineIDs.indices).sorted { (load[$0], $0) < (load[$1], $1) }
            position = [Int](repeating: 0, count: order.count)
            for (p, m) in order.enumerated() { position[m] = p }
            orderBuilt = true

            // Pass 2: place everything active and unplaced, peers first.
            var pending = names.indices.filter { active[$0] && !global[$0] && placement[$0] == -1 }
            pending.sort { (depth[$0], $0) < (depth[$1], $1) }
            // Units displaced in pass 1 are unplaced, hence in `pending`, in peers-first order.
            queue = []
            queued = [Int](repeating: 0, count: names.count)
            for u in pending { enqueue(u) }
            var i = 0
            while i < queue.count {
                let u = queue[i]
                i += 1
                queued[u] -= 1
                if placement[u] == -1 { scheduleOne(u) }
            }
        }

        mutating func scheduleOne(_ u: Int) {
            if template[u] { return unschedulable(u, .template) }
            if inCycle[u] { return unschedulable(u, .machineOfCycle) }
            if machineIDs.isEmpty { return unschedulable(u, .noMachines) }
            let base = opts[u]
            var candidates: [Int]? = nil  // nil: all machines in load order
            var why = Decision.Reason.leastLoaded(units: 0)
            if !base.isMachineDependent {
                if !base.machineOf.isEmpty {
                    why = .followsPeers(base.machineOf)
                    for p in base.machineOf {
                        guard let pi = unitIndex[p], active[pi] else { return unschedulable(u, .peerNotScheduled(p)) }
                        if global[pi] { continue }
                        guard placement[pi] >= 0 else {
                            // The peer was displaced and waits later in the queue: follow it there.
                            if queued[pi] > 0 { return enqueue(u) }
                            return unschedulable(u, .peerNotScheduled(p))
                        }
                        candidates = [placement[pi]]
                        break
                    }
                } else if let id = base.machineID {
                    why = .pinned(id)
                    let matches = machineIndex[id].map { [$0] } ?? (id.count == 8 ? shortIndex[id] ?? [] : [])
                    if matches.isEmpty { return unschedulable(u, .machineNotPresent(id)) }
                    candidates = matches.sorted { (load[$0], $0) < (load[$1], $1) }
                }
            }
            let metaFilter = base.isMachineDependent || base.machineMetadata.isEmpty ? nil : unitMetadataSet(u)

            // The hot loop records nothing; reasons are gathered by a second pass only when nothing fits.
            var chosen = -1
            var displacing: [Int] = []
            let count = candidates?.count ?? order.count
            var k = 0
            while k < count {
                let m = candidates?[k] ?? order[k]
                k += 1
                if reject(u, m, metaFilter) != nil { continue }
                let victims = toDisplace(u, m)
                if victims.contains(where: { displaced.contains($0) }) { continue }
                chosen = m
                displacing = victims
                break
            }
            guard chosen >= 0 else {
                var tally = Tally()
                for k in 0..<count {
                    let m = candidates?[k] ?? order[k]
                    if let rejection = reject(u, m, metaFilter) {
                        tally.add(rejection, self)
                    } else if let again = toDisplace(u, m).first(where: { displaced.contains($0) }) {
                        tally.add(.wouldDisplaceAgain(again), self)
                    }
                }
                return unschedulable(u, .noEligibleMachine(tally.summary))
            }
            for v in displacing { displace(v, by: u) }
            yieldGlobals(to: u, chosen)
            if case .leastLoaded = why { why = .leastLoaded(units: load[chosen]) }
            place(u, chosen)
            decisions.append(Decision(unit: names[u], action: .schedule(machineID: machineIDs[chosen]), reason: why))
        }

        /// Why machine `m` cannot take unit `u` as a new placement; nil if it can.
        @inline(__always)
        mutating func reject(_ u: Int, _ m: Int, _ metaFilter: MachineBitset?) -> Rejection? {
            if !machinePresent[m] { return .notPresent }
            if let metaFilter, !metaFilter.contains(m) { return .metadata }
            return check(u, m, newPlacement: true)
        }

        /// Global units present on each machine: metadata matches and no conflict with what is there.
        mutating func computeGlobals() {
            for g in names.indices where global[g] && active[g] && !template[g] {
                let filter = opts[g].isMachineDependent || opts[g].machineMetadata.isEmpty
                    ? nil : metadataSet(opts[g].machineMetadata)
                for m in machineIDs.indices {
                    if let filter, !filter.contains(m) { continue }
                    guard let o = options(g, m), o.acceptsMetadata(machineMeta[m]) else { continue }
                    if conflictOn(g, o, m) != nil || replacedOn(g, m) { continue }
                    globalsOn[m].append(g)
                    if holder[g] { holdersOn[m].append(g) }
                    load[m] += 1
                }
            }
            globalsComputed = true
        }

        // MARK: - State changes

        mutating func place(_ u: Int, _ m: Int) {
            placement[u] = m
            unitsOn[m].append(u)
            if holder[u] { holdersOn[m].append(u) }
            load[m] += 1
            if orderBuilt { moveRight(m) }
        }

        mutating func remove(_ u: Int) {
            let m = placement[u]
            placement[u] = -1
            if let i = unitsOn[m].firstIndex(of: u) { unitsOn[m].remove(at: i) }
            if holder[u], let i = holdersOn[m].firstIndex(of: u) { holdersOn[m].remove(at: i) }
            load[m] -= 1
            if orderBuilt { moveLeft(m) }
        }

        /// Unschedules `v` because `u` replaces it, with its MachineOf dependants there, and queues them.
        mutating func displace(_ v: Int, by u: Int) {
            let m = placement[v]
            unschedule(v, machineIDs[m], .replacedBy(names[u]))
            remove(v)
            displaced.insert(v)
            enqueue(v)
            var stack = [v]
            while let peer = stack.popLast() {
                for d in dependents[peer] where placement[d] == m {
                    unschedule(d, machineIDs[m], .peerNotLocal(names[peer]))
                    remove(d)
                    enqueue(d)
                    stack.append(d)
                }
            }
        }

        mutating func enqueue(_ u: Int) {
            queue.append(u)
            if orderBuilt { queued[u] += 1 }
        }

        mutating func moveRight(_ m: Int) {
            var p = position[m]
            while p + 1 < order.count, (load[order[p + 1]], order[p + 1]) < (load[m], m) {
                order[p] = order[p + 1]
                position[order[p]] = p
                p += 1
            }
            order[p] = m
            position[m] = p
        }

        mutating func moveLeft(_ m: Int) {
            var p = position[m]
            while p > 0, (load[m], m) < (load[order[p - 1]], order[p - 1]) {
                order[p] = order[p - 1]
                position[order[p]] = p
                p -= 1
            }
            order[p] = m
            position[m] = p
        }

        mutating func unschedule(_ u: Int, _ machineID: String, _ reason: Decision.Reason) {
            decisions.append(Decision(unit: names[u], action: .unschedule(machineID: machineID), reason: reason))
        }

        mutating func unschedulable(_ u: Int, _ reason: Decision.Reason) {
            decisions.append(Decision(unit: names[u], action: .unschedulable, reason: reason))
        }

        func reason(for rejection: Rejection, unit u: Int) -> Decision.Reason {
            switch rejection {
            case .notPresent: return .machineGone
            case .machineID: return .machineIDMismatch(required: opts[u].machineID ?? "")
            case .metadata: return .metadataMismatch
            case .capacity: return .noEligibleMachine("machine is full")
            case .peer(let p): return .peerNotLocal(p)
            case .conflict(let v): return .conflict(with: names[v])
            case .replacedBy(let v), .wouldDisplaceAgain(let v): return .replacedBy(names[v])
            case .invalid(let e): return .invalidOnMachine(e)
            }
        }
    }
}
