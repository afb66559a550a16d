import Foundation

/// The agent's view of the cluster (``AgentSource``) backed by the store through a ``Registry``.
///
/// Keeps this machine's slice of `job/` (units scheduled here and global units) in an
/// ``AgentRegistryView`` fed by a continuous watch of `job/` through a ``JobEventFeed`` (its own, or
/// one shared by the agents of this process): a pass reads nothing while the watch follows the store, and an event reads only the unit it concerns, and only if that unit may
/// matter here. Without a live watch (before ``changes()``, after history loss or an outage) an
/// answer comes from a full read of `job/`. Publishes unit states and heartbeats with the agent
/// TTL. It refuses
/// to answer rather than answer wrongly: if a unit scheduled on this machine cannot be read, an
/// answer without it would make the agent stop it, so ``desiredUnits(for:)`` throws instead and the
/// agent keeps what runs running.
public final class RegistryAgentSource: AgentSource, @unchecked Sendable {
    public let registry: Registry
    public let machineID: String
    /// TTL (seconds) of published states and heartbeats: `agent_ttl`.
    public let ttl: Int
    private let lock = NSLock()
    private var heartbeated: Set<String> = []
    /// The record last written for each unit (nil entry: unknown, write afresh).
    private var written: [String: UnitStateRecord] = [:]
    private var state: FollowState
    /// Where this source's `job/` events come from.
    public let feed: JobEventFeed

    /// The last answer of ``desiredUnits(for:)`` from the live view, valid while its generation holds.
    private struct Answer {
        var generation: UInt64
        var machine: MachineState
        var units: [DesiredUnit]
    }

    /// The view and the one watch that keeps it (guarded by `lock`).
    private struct FollowState {
        var view: AgentRegistryView
        /// Whether the watch is following the store, so the view is current.
        var live = false
        var answer: Answer?
        var follower: Task<Void, Never>?
        var listeners: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextListener = 0
    }

    /// - Parameter feed: a ``JobEventFeed`` shared with other agents of this process (simulations);
    ///   nil gives this source its own.
    public init(registry: Registry, machineID: String, ttl: Int, feed: JobEventFeed? = nil) {
        self.registry = registry
        self.feed = feed ?? JobEventFeed(registry: registry)
        self.machineID = machineID
        self.ttl = max(1, ttl)
        self.state = FollowState(view: AgentRegistryView(machineID: machineID, keys: registry.keys))
    }

    public func desiredUnits(for machine: MachineState) async throws -> [DesiredUnit] {
        let (view, live) = lock.withLock { (state.view, state.live) }
        if live, let cached = lock.withLock({ state.answer }), cached.generation == view.generation,
            cached.machine == machine
        {
            return cached.units
        }
        let current: AgentRegistryView
        if live {
            current = view
        } else {
            // No live watch keeps the view: read this machine's slice now (throws on store trouble).
            current = try await fullRead(into: AgentRegistryView(machineID: machineID, keys: registry.keys)).view
        }
        let units = try Self.desired(from: current, for: machine, keys: registry.keys)
        if live {
            lock.withLock { state.answer = Answer(generation: current.generation, machine: machine, units: units) }
        }
        return units
    }

    /// Whether the watch follows the store (answers come from the view without reads).
    var isLive: Bool { lock.withLock { state.live } }

    /// The units the view keeps (scheduled here or global).
    var keptUnits: [String] { lock.withLock { state.view.units } }

    /// The desired units from a view: the same decoding and selection as a read of the whole
    /// registry, over the units that matter here.
    static func desired(from view: AgentRegistryView, for machine: MachineState, keys: RegistryKeyLayout) throws
        -> [DesiredUnit]
    {
        let contents = RegistryContents(leaves: view.leaves, keys: keys)
        let unreadableHere = contents.unreadableUnits.filter { contents.allTargets[$0] == machine.id }.sorted()
        if !unreadableHere.isEmpty {
            let reasons = contents.problems.map(\.description).joined(separator: "; ")
            throw AgentSourceError.unavailable(
                "units scheduled here cannot be read (\(unreadableHere.joined(separator: ", "))): \(reasons)")
        }
        var schedule: [String: String] = [:]
        for unit in contents.units { if let target = unit.target { schedule[unit.name] = target } }
        return DesiredUnit.toRun(on: machine, units: contents.units.map(\.unit), schedule: schedule)
    }

    /// Reads all of `job/` once and keeps this machine's slice (plus the blobs of its units).
    /// Returns the view and the store index of the read, to watch from `index + 1`. A unit neither
    /// targeted here nor possibly global is skipped after two leaf-name compares (no key parsing).
    ///
    /// `quorum` when the read must include every event committed before it began: the watch loop's
    /// read, since events the feed handed out before this subscriber joined are in no inbox, and a
    /// member that lags the one the feed watches from would answer without them.
    func fullRead(into view: AgentRegistryView, quorum: Bool = false) async throws -> (view: AgentRegistryView, index: UInt64) {
        var view = view
        view.reset()
        let keys = registry.keys
        let (jobs, index) = try await registry.read(keys.jobsDirectory, "list units for machine \(machineID)", quorum: quorum)
        let prefix = keys.jobsDirectory + "/"
        for unitNode in jobs?.nodes ?? [] where unitNode.dir && unitNode.key.hasPrefix(prefix) {
            let unit = String(unitNode.key.dropFirst(prefix.count))
            let leaves = unitNode.nodes ?? []
            guard Self.mayMatter(leaves, machineID: machineID) else { continue }
            if let hash = view.blobWanted(unit: unit, leaves: leaves) {
                let text = try await readBlob(hash)
                view.addBlob(hash, text)
            }
            view.load(unit: unit, leaves: leaves, at: index)
        }
        return (view, index)
    }

    /// Whether the leaves of `job/<u>` may concern `machineID`: targeted there, or an object that
    /// may be global (``AgentRegistryView/mayBeGlobal(_:)``).
    static func mayMatter(_ leaves: [StoreNode], machineID: String) -> Bool {
        for leaf in leaves where !leaf.dir {
            if leaf.key.hasSuffix("/target"), leaf.value == machineID { return true }
            if leaf.key.hasSuffix("/object"), AgentRegistryView.mayBeGlobal(leaf.value ?? "") { return true }
        }
        return false
    }

    /// Applies a batch of `job/` events to the live view; true when the view changed. Units that
    /// an event makes this machine's (or possibly global) are read concurrently (``fetch(_:)``),
    /// not one after another: 250 schedules written at once cost about 250 / 32 store round trips
    /// before the agent hears of them, and it hears once. A later event of a unit being read waits
    /// for that read (it is applied after it, and skipped if the read already reflects it), so
    /// every unit's events still apply in store order.
    private func absorb(_ events: [StoreWatchEvent], from feed: JobEventFeed.Subscription) async throws -> Bool {
        let before = lock.withLock { state.view.generation }
        var work = events
        while !work.isEmpty {
            var reading: [String] = []
            var beingRead = Set<String>()
            /// Per unit read, the index of the event that asked for the read: the read must include it.
            var readAfter: [String: UInt64] = [:]
            var waiting: [StoreWatchEvent] = []
            for event in work {
                if let (unit, _) = self.feed.split(event.node.key), beingRead.contains(String(unit)) {
                    waiting.append(event)
                    continue
                }
                switch lock.withLock({ state.view.apply(event) }) {
                case .ignored: continue
                case .changed: release(event, from: feed)
                case .fetch(let unit):
                    // Before the read: every event of the unit after it reaches this subscriber.
                    feed.want(unit)
                    if beingRead.insert(unit).inserted { reading.append(unit) }
                    readAfter[unit] = max(readAfter[unit] ?? 0, event.node.modifiedIndex)
                }
            }
            if !reading.isEmpty {
                try await fetch(reading, after: readAfter)
                for unit in reading where !lock.withLock({ state.view.keeps(unit) }) { feed.drop(unit) }
            }
            work = waiting
        }
        return lock.withLock { state.view.generation } != before
    }

    /// Reads `job/<unit>` of every unit in `units` (at most ``BoundedConcurrency/defaultLimit`` at a
    /// time), then the blobs the view lacks (each once), and loads them into the live view. The
    /// first failure is thrown after all reads have ended; nothing is loaded then (the caller
    /// re-reads everything).
    ///
    /// A read must include the event that asked for it (`after[unit]`): one answered by a member
    /// that has not applied that event yet (reads go to any member, the watch may be on another) is
    /// repeated as a quorum read. Taken as it was, such a read showed the unit not scheduled here,
    /// so the view let go of it and the agent never started it (seen on the worker after a Raft
    /// leader's death, when the members' applied indexes drift apart: docs/agent.md).
    private func fetch(_ units: [String], after: [String: UInt64]) async throws {
        let registry = self.registry
        let reads = await BoundedConcurrency.map(units) { unit -> Result<(StoreNode?, UInt64), any Error> in
            do {
                let key = registry.keys.jobDirectory(unit)
                let read = try await registry.read(key, "read unit \(unit)")
                guard read.index < after[unit] ?? 0 else { return .success(read) }
                let current = try await registry.read(key, "read unit \(unit)", quorum: true)
                guard current.index >= after[unit] ?? 0 else {
                    throw AgentSourceError.unavailable(
                        "a quorum read of unit \(unit) answered at index \(current.index), before its event at \(after[unit] ?? 0)")
                }
                return .success(current)
            } catch {
                return .failure(error)
            }
        }
        var loaded: [(unit: String, leaves: [StoreNode], index: UInt64)] = []
        for (unit, read) in zip(units, reads) {
            let (node, index) = try read.get()
            loaded.append((unit, node?.leaves ?? [], index))
        }
        var wanted: [UnitHash] = []
        lock.withLock {
            for read in loaded {
                if let hash = state.view.blobWanted(unit: read.unit, leaves: read.leaves), !wanted.contains(hash) {
                    wanted.append(hash)
                }
            }
        }
        let blobs = await BoundedConcurrency.map(wanted) { hash -> Result<String?, any Error> in
            do { return .success(try await self.readBlob(hash)) } catch { return .failure(error) }
        }
        var texts: [(UnitHash, String?)] = []
        for (hash, blob) in zip(wanted, blobs) { texts.append((hash, try blob.get())) }
        lock.withLock {
            for (hash, text) in texts { state.view.addBlob(hash, text) }
            for read in loaded { state.view.load(unit: read.unit, leaves: read.leaves, at: read.index) }
        }
    }

    private func readBlob(_ hash: UnitHash) async throws -> String? {
        try await registry.read(registry.keys.unitBlob(hash), "read unit blob \(hash.short)").node?.value
    }

    /// Publishes each state; one identical to the last this source wrote is renewed (TTL refresh,
    /// no watcher woken) rather than rewritten, so the periodic full republish of an idle machine
    /// costs the cluster no events.
    public func publish(_ states: [PublishedUnitState]) async throws {
        for state in states {
            let last = lock.withLock { written[state.unit] }
            lock.withLock { written[state.unit] = nil }
            if let record = state.record {
                if last == record {
                    try await registry.renewUnitState(state.unit, machineID: machineID, record, ttl: ttl)
                } else {
                    try await registry.publishUnitState(state.unit, machineID: machineID, record, ttl: ttl)
                }
            } else {
                try await registry.removeUnitState(state.unit, machineID: machineID)
            }
            lock.withLock { written[state.unit] = state.record }
        }
    }

    /// Heartbeats new launched units and renews (TTL refresh, no event) the ones heartbeated before;
    /// every agent watches `job/`, so each rewrite would wake all of them.
    /// Writes go out concurrently (a machine taking over 250 units of a dead one heartbeats them all
    /// at once, and `fleetctl` waits for those heartbeats). On failure the first error is thrown and
    /// what succeeded is remembered, so the next call renews, sets or clears only as needed.
    public func heartbeat(launched units: [String]) async throws {
        try await heartbeat(launched: units, renew: true)
    }

    /// With `renew` false the units heartbeated before and still launched are left alone (see
    /// ``AgentSource/heartbeat(launched:renew:)``).
    public func heartbeat(launched units: [String], renew: Bool) async throws {
        let previous = lock.withLock { heartbeated }
        let (registry, machineID, ttl) = (self.registry, self.machineID, self.ttl)
        let kept = renew ? [] : units.filter { previous.contains($0) }
        let writes = units.filter { renew || !previous.contains($0) }.map { ($0, true) }
            + previous.subtracting(units).sorted().map { ($0, false) }
        let failures = await BoundedConcurrency.map(writes) { unit, launched -> (any Error)? in
            do {
                if !launched {
                    try await registry.clearHeartbeat(unit, machineID: machineID)
                } else if previous.contains(unit) {
                    try await registry.renewHeartbeat(unit, machineID: machineID, ttl: ttl)
                } else {
                    try await registry.setHeartbeat(unit, machineID: machineID, ttl: ttl)
                }
                return nil
            } catch {
                return error
            }
        }
        var now = Set(kept)
        var firstError: (any Error)?
        for ((unit, launched), failure) in zip(writes, failures) {
            // Kept: launched units heartbeated now or before (renewed next time), and clears that failed.
            if failure == nil ? launched : (launched ? previous.contains(unit) : true) { now.insert(unit) }
            if firstError == nil, let failure { firstError = failure }
        }
        lock.withLock { heartbeated = now }
        if let firstError { throw firstError }
    }

    /// Notifies whenever this machine's slice of the registry changes (see ``AgentRegistryView``),
    /// and after every re-sync (start, watch history loss, watch outage); bursts coalesce into one
    /// pending notification. One watch serves every stream of this source.
    public func changes() async -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = lock.withLock { () -> Int in
            state.nextListener += 1
            state.listeners[state.nextListener] = continuation
            if state.follower == nil {
                state.follower = Task.detached { [weak self] in await self?.follow() }
            }
            return state.nextListener
        }
        continuation.onTermination = { [weak self] _ in self?.removeListener(id) }
        return stream
    }

    private func removeListener(_ id: Int) {
        let follower = lock.withLock { () -> Task<Void, Never>? in
            state.listeners[id] = nil
            guard state.listeners.isEmpty else { return nil }
            defer {
                state.follower = nil
                state.live = false
            }
            return state.follower
        }
        follower?.cancel()
    }

    private func notifyListeners() {
        for listener in lock.withLock({ Array(state.listeners.values) }) { listener.yield() }
    }

    /// The watch loop: join the feed, a full read of `job/`, then every event routed here applied
    /// to the view (reading only the units that may now matter here). History loss or any store
    /// error drops back to a full read (with backoff on errors); meanwhile the view is not live, so
    /// ``desiredUnits(for:)`` reads the store itself and throws if it cannot.
    private func follow() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            var subscription: JobEventFeed.Subscription?
            do {
                let feed = try await self.feed.subscribe(machineID: machineID)
                subscription = feed
                let blank = lock.withLock { state.view }
                let (view, index) = try await fullRead(into: blank, quorum: true)
                feed.narrow(to: Set(view.units))
                lock.withLock {
                    state.view = view
                    state.live = true
                }
                notifyListeners()
                while let batch = try await feed.nextBatch() {
                    if batch.contains(where: { $0.node.modifiedIndex > index }) { backoff = .milliseconds(100) }
                    if try await absorb(batch.filter { $0.node.modifiedIndex > index }, from: feed) {
                        notifyListeners()
                    }
                }
                feed.cancel()
            } catch StoreClientError.historyCleared {
                // Events were missed: re-read at once.
                subscription?.cancel()
                lock.withLock { state.live = false }
            } catch {
                subscription?.cancel()
                lock.withLock { state.live = false }
                if Task.isCancelled { break }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        lock.withLock { state.live = false }
    }

    /// After an event changed the view, stops asking for the events of units it no longer keeps.
    private func release(_ event: StoreWatchEvent, from feed: JobEventFeed.Subscription) {
        if let (unit, _) = self.feed.split(event.node.key) {
            let name = String(unit)
            if !lock.withLock({ state.view.keeps(name) }) { feed.drop(name) }
        } else if event.node.key == registry.keys.jobsDirectory {
            feed.narrow(to: Set(lock.withLock { state.view.units }))
        }
    }
}
