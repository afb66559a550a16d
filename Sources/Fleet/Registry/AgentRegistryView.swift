/// One machine's slice of the registry, kept current from the events of its `job/` watch, so an
/// agent's pass costs nothing in a quiet cluster and a change costs reads of the changed unit only.
///
/// Why: the full answer (``RegistryAgentSource`` before this view) read and parsed all of `job/` and
/// `unit/` on every notification, and every agent is notified of every change under `job/`: with M
/// machines and U units a burst of submissions cost O(M × U) per wave (fleet.md §5.2, problems #1
/// and #2). The key layout cannot change (fleetctl and old fleetds read it), so every agent still
/// *receives* every `job/` event; the view makes each one O(1) unless it concerns this machine.
///
/// What it keeps: the `job/<u>/…` leaves (object, target-state, target) of the units that matter
/// here, i.e. scheduled here (`target` = this machine) or global, plus the blobs they refer to.
/// Everything else is dropped on sight. The desired units are then computed by the same code as a
/// full read (``RegistryContents`` and ``DesiredUnit/toRun(on:units:schedule:)``) over these
/// leaves, so both answers agree, unreadable units included.
///
/// The view never reads the store itself: ``apply(_:)`` says when a unit must be (re)read, and the
/// caller reads `job/<u>` (and its blob) and hands the result to ``load(unit:leaves:at:)``. A unit
/// read at index R already reflects every event up to R, so those events are skipped.
struct AgentRegistryView: Sendable {
    /// What an event means for the view.
    enum Step: Hashable, Sendable {
        /// Nothing here changed.
        case ignored
        /// The view changed; the desired units may differ.
        case changed
        /// The unit may have become relevant (or its contents changed): read `job/<unit>` and call
        /// ``AgentRegistryView/load(unit:leaves:at:)``.
        case fetch(String)
    }

    private struct Entry: Sendable {
        /// Leaves by full key (`job/<u>/object`, `target-state`, `target`).
        var leaves: [String: StoreNode]
        /// Store index of the read these leaves came from.
        var readAt: UInt64
        var global: Bool
    }

    let machineID: String
    let keys: RegistryKeyLayout
    private var entries: [String: Entry] = [:]
    /// Unit blobs (JSON as stored) by hash hex; content-addressed, so never stale.
    private var blobs: [String: String] = [:]
    /// Bumped on every change of the kept leaves or blobs: a cached answer is valid while it holds.
    private(set) var generation: UInt64 = 0

    init(machineID: String, keys: RegistryKeyLayout) {
        self.machineID = machineID
        self.keys = keys
    }

    /// The units kept (scheduled here or global), sorted.
    var units: [String] { entries.keys.sorted() }

    /// Forgets every unit (before a full re-read); blobs stay, they cannot change.
    mutating func reset() {
        entries = [:]
        generation &+= 1
    }

    /// Applies one watch event of `job/`.
    mutating func apply(_ event: StoreWatchEvent) -> Step {
        let key = event.node.key
        let index = event.node.modifiedIndex
        guard let parsed = keys.parse(key) else {
            // Directory events: the removal of `job/<u>` (destroy) or of `job/` itself.
            guard event.isRemoval else { return .ignored }
            if key == keys.jobsDirectory {
                let had = !entries.isEmpty
                entries = entries.filter { $0.value.readAt >= index }
                if had { generation &+= 1 }
                return had ? .changed : .ignored
            }
            let prefix = keys.jobsDirectory + "/"
            guard key.hasPrefix(prefix) else { return .ignored }
            let unit = String(key.dropFirst(prefix.count))
            guard !unit.contains("/"), let entry = entries[unit], entry.readAt < index else { return .ignored }
            entries[unit] = nil
            generation &+= 1
            return .changed
        }
        let unit: String
        switch parsed {
        case .jobObject(let u), .jobTargetState(let u), .jobTarget(let u): unit = u
        default: return .ignored  // heartbeats, and anything outside job/
        }
        guard var entry = entries[unit] else {
            // Not kept: only becoming scheduled here or a (possibly) global object matters.
            if event.isRemoval { return .ignored }
            switch parsed {
            case .jobTarget where event.node.value == machineID: return .fetch(unit)
            case .jobObject where Self.mayBeGlobal(event.node.value ?? ""): return .fetch(unit)
            default: return .ignored
            }
        }
        guard index > entry.readAt else { return .ignored }
        switch parsed {
        case .jobObject:
            // New contents: global-ness and blob may change; read the unit again.
            return .fetch(unit)
        case .jobTarget where !entry.global && (event.isRemoval || event.node.value != machineID):
            entries[unit] = nil
        default:
            if event.isRemoval {
                entry.leaves[key] = nil
            } else {
                var leaf = event.node
                leaf.ttl = nil
                entry.leaves[key] = leaf
            }
            entries[unit] = entry
        }
        generation &+= 1
        return .changed
    }

    /// The blob a freshly read unit needs before ``load(unit:leaves:at:)`` can judge it: its
    /// object's hash when the unit is scheduled here or may be global and the blob is not known yet.
    func blobWanted(unit: String, leaves: [StoreNode]) -> UnitHash? {
        let (object, target) = Self.objectAndTarget(unit: unit, leaves: leaves, keys: keys)
        guard let object, target == machineID || Self.mayBeGlobal(object) else { return nil }
        guard let decoded = try? RegistryJSON.decode(JobObject.self, from: object), blobs[decoded.unitHash.hex] == nil
        else { return nil }
        return decoded.unitHash
    }

    /// Records a blob read from the store (nil: absent, which leaves the unit unreadable).
    mutating func addBlob(_ hash: UnitHash, _ text: String?) {
        guard let text, blobs[hash.hex] != text else { return }
        blobs[hash.hex] = text
        generation &+= 1
    }

    /// Replaces what is known of `unit` by a read of `job/<unit>` made at store index `index`
    /// (`leaves` empty when the unit does not exist), keeping it only if it is scheduled here or
    /// global. Events at or below `index` are skipped afterwards.
    mutating func load(unit: String, leaves: [StoreNode], at index: UInt64) {
        if let existing = entries[unit], existing.readAt > index { return }
        let (object, target) = Self.objectAndTarget(unit: unit, leaves: leaves, keys: keys)
        var kept: [String: StoreNode] = [:]
        for leaf in leaves {
            switch keys.parse(leaf.key) {
            case .jobObject(unit)?, .jobTargetState(unit)?, .jobTarget(unit)?:
                var leaf = leaf
                leaf.ttl = nil
                kept[leaf.key] = leaf
            default: continue
            }
        }
        var global = false
        if let object, Self.mayBeGlobal(object) {
            let contents = RegistryContents(leaves: Array(kept.values) + blobLeaves(), keys: keys)
            global = contents.units.first { $0.name == unit }?.unit.options.isGlobal ?? false
        }
        let before = entries[unit]
        if target == machineID || global {
            entries[unit] = Entry(leaves: kept, readAt: index, global: global)
        } else {
            entries[unit] = nil
        }
        if before != nil || entries[unit] != nil { generation &+= 1 }
    }

    /// The kept leaves plus the blobs they refer to: input for ``RegistryContents``.
    var leaves: [StoreNode] {
        entries.values.flatMap { $0.leaves.values } + blobLeaves()
    }

    private func blobLeaves() -> [StoreNode] {
        blobs.compactMap { hex, text in
            UnitHash(hex: hex).map { StoreNode(key: keys.unitBlob($0), value: text) }
        }
    }

    /// Whether a `job/<u>/object` value may describe a global unit. A unit submitted with its text
    /// (``JobObject/originalText``) is global only if that text says `Global`; one without (fleetctl
    /// of fleet v1) needs its blob to tell. Cheap on purpose: every agent sees every object.
    static func mayBeGlobal(_ object: String) -> Bool {
        contains(object, "Global") || !contains(object, "\"OriginalText\"")
    }

    /// Byte search over UTF-8 (no Foundation string machinery, no allocation for native strings).
    static func contains(_ text: String, _ needle: StaticString) -> Bool {
        var text = text
        return text.withUTF8 { hay in
            needle.withUTF8Buffer { n in
                guard n.count > 0, hay.count >= n.count, let first = n.first else { return n.count == 0 }
                var i = 0
                let last = hay.count - n.count
                while i <= last {
                    if hay[i] == first {
                        var j = 1
                        while j < n.count && hay[i + j] == n[j] { j += 1 }
                        if j == n.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }

    /// Whether `unit` is kept (scheduled here or global).
    func keeps(_ unit: String) -> Bool { entries[unit] != nil }

    private static func objectAndTarget(unit: String, leaves: [StoreNode], keys: RegistryKeyLayout)
        -> (object: String?, target: String?)
    {
        var object: String?
        var target: String?
        for leaf in leaves {
            switch keys.parse(leaf.key) {
            case .jobObject(unit)?: object = leaf.value
            case .jobTarget(unit)?: target = leaf.value
            default: continue
            }
        }
        return (object, target)
    }
}
