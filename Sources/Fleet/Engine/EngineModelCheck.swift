/// Where one full read of the registry and the engine's model disagree
/// (``EngineModel/divergence(from:)``).
struct ModelDivergence: Sendable, Equatable, CustomStringConvertible {
    /// Plan-relevant records of the read that the model lacks or holds with another text.
    var differing: Int
    /// Records the model holds that the read does not (a missed deletion or expiry).
    var onlyInModel: Int
    /// One key that differs (or, when only the model holds extra records, the area they are in).
    var example: String

    var description: String {
        "\(differing) record(s) differ or are missing from the model, \(onlyInModel) held only by the model "
            + "(e.g. \(example))"
    }
}

extension EngineModel {
    /// Compares the model with one full read of the prefix (`root`, the read's node): nil when the
    /// model holds exactly the plan-relevant records of the read — machines and their metadata, job
    /// objects, desired states, the schedule and unit blobs — with the very same texts; otherwise
    /// what differs.
    ///
    /// Why: the periodic safety pass exists to catch a watch event that was lost or misapplied.
    /// Rebuilding the model from the read (parsing, decoding every unit, sorting, then planning)
    /// cost about 0.5 CPU s at 10,000 units every 30 s, although it almost always rebuilt the same
    /// model. This check looks at every plan-relevant leaf of the same read, as the rebuild does,
    /// but only compares texts: the model's plan is a function of those texts, so equal texts mean
    /// an equal model. Anything else makes the engine rebuild as before. The unit states,
    /// heartbeats and lease are left out, as the model leaves them out.
    func divergence(from root: StoreNode?) -> ModelDivergence? {
        var differing = 0
        var example: String?
        // Per kind of record: how many the read holds that the model holds too (any text).
        var present = (machines: 0, metadata: 0, objects: 0, targetStates: 0, targets: 0, blobs: 0)
        func compare(_ held: String?, _ value: String, _ key: String) -> Int {
            guard let held else {
                differing += 1
                example = example ?? key
                return 0
            }
            if held != value {
                differing += 1
                example = example ?? key
            }
            return 1
        }
        // The unit states the agents publish (one per unit and machine) are not followed: their
        // subtrees are skipped whole rather than key by key.
        let unfollowed: Set<String> = [keys.unitStatesDirectory, keys.legacyStatesDirectory]
        var stack: [StoreNode] = root.map { [$0] } ?? []
        while let node = stack.popLast() {
            if node.dir {
                if let children = node.nodes, !unfollowed.contains(node.key) { stack.append(contentsOf: children) }
                continue
            }
            guard let value = node.value, let parsed = keys.parse(node.key) else { continue }
            switch parsed {
            case .machineObject(let id): present.machines += compare(machineObjects[id]?.text, value, node.key)
            case .machineMetadata(let id, let name): present.metadata += compare(overrides[id]?[name], value, node.key)
            case .jobObject(let unit): present.objects += compare(jobObjects[unit]?.text, value, node.key)
            case .jobTargetState(let unit): present.targetStates += compare(targetStates[unit], value, node.key)
            case .jobTarget(let unit): present.targets += compare(targets[unit], value, node.key)
            case .unitBlob(let hash): present.blobs += compare(blobs[hash.hex], value, node.key)
            case .jobHeartbeat, .unitState, .legacyUnitState, .engineLease, .engineVersion: continue
            }
        }
        // Every record of the read was found; the model holds more only if its counts are larger.
        // (Smaller would mean two keys of the read landed on one record of the model: not a model a
        // read builds, so it counts as a difference too.)
        let held: [(count: Int, present: Int, area: String)] = [
            (machineObjects.count, present.machines, "machines/*/object"),
            (overrides.values.reduce(0) { $0 + $1.count }, present.metadata, "machines/*/metadata"),
            (jobObjects.count, present.objects, "job/*/object"),
            (targetStates.count, present.targetStates, "job/*/target-state"),
            (targets.count, present.targets, "job/*/target"),
            (blobs.count, present.blobs, "unit/*"),
        ]
        var onlyInModel = 0
        for kind in held where kind.count != kind.present {
            if kind.count > kind.present {
                onlyInModel += kind.count - kind.present
                example = example ?? "\(keys.prefix)\(kind.area), held only by the model"
            } else {
                differing += kind.present - kind.count
                example = example ?? "\(keys.prefix)\(kind.area), two keys for one record"
            }
        }
        guard differing > 0 || onlyInModel > 0 else { return nil }
        return ModelDivergence(differing: differing, onlyInModel: onlyInModel, example: example ?? "")
    }
}
