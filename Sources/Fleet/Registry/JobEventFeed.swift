import Synchronization

/// One continuous watch of `job/` (``StoreWatchSubscription``) shared by the agents of a process,
/// each event handed only to the agents whose ``AgentRegistryView`` would not ignore it.
///
/// Why: every agent must learn of every `job/` change that concerns it, and the key layout gives
/// it no narrower watch than all of `job/`. A fleetd has one agent, so its feed has one subscriber
/// and this only moves the cheap "is this mine?" test (key split, target compare, `Global` scan)
/// ahead of the view: a real machine pays one stream event and O(1) routing per `job/` change, and
/// a view update only for its own units. A process that simulates many machines (fleet-bench
/// fleet-sim) shares one feed among all of them: the store keeps one watcher instead of one per
/// agent, and each event is split and routed once instead of once per agent. The agents still run
/// the real ``RegistryAgentSource`` and ``AgentRegistryView`` code on every event routed to them.
///
/// Routing (an event is delivered to a subscriber if the view could act on it):
/// * `job/<u>/object`, `target-state`, `target` and the removal of `job/<u>`: subscribers that
///   declared `<u>` (``Subscription/want(_:)``, kept or being read), and subscribers in a full
///   read (``Subscription/narrow(to:)`` not yet called);
/// * `job/<u>/target` set to machine M: also M's subscribers (it may become theirs);
/// * `job/<u>/object` that may describe a global unit: every subscriber;
/// * the removal of `job/` itself: every subscriber; heartbeats (`job-state`): nobody.
///
/// No gap: a subscriber joins before it reads, so every event after its read reaches it. A
/// subscriber's buffer is bounded; on overflow, or when the shared watch fails, it is dropped and
/// its ``Subscription/next()`` throws (`historyCleared`, or the store's error) so it re-reads.
public final class JobEventFeed: Sendable {
    public let registry: Registry
    /// Events a subscriber may fall behind before it is dropped (and re-reads).
    public let bufferSize: Int
    private let jobsDirectory: String
    private let jobsPrefix: String
    private let state = Mutex(State())

    private struct Member {
        let machineID: String
        let id: Int
        let inbox: JobEventInbox
        /// Why the subscriber was dropped, read by its ``Subscription/next()``.
        let failure: FailureBox
        var everything = true
        var units: Set<String> = []
    }

    private struct State {
        var members: [Int: Member] = [:]
        var byMachine: [String: Set<Int>] = [:]
        var holders: [String: Set<Int>] = [:]
        var everything: Set<Int> = []
        var nextID = 0
        var pump: Task<Void, Never>?
        var watch: (any StoreWatchSubscription)?
        var pumpGeneration = 0
    }

    public init(registry: Registry, bufferSize: Int = 4096) {
        self.registry = registry
        self.bufferSize = max(1, bufferSize)
        jobsDirectory = registry.keys.jobsDirectory
        jobsPrefix = registry.keys.jobsDirectory + "/"
    }

    /// Joins the feed for `machineID`, starting the shared watch if none runs. Every `job/` event
    /// committed after this returns is offered (call ``Subscription/narrow(to:)`` after the read).
    public func subscribe(machineID: String) async throws -> Subscription {
        if state.withLock({ $0.pump == nil }) {
            // Any later read of the subscriber is at or after this index, so watching from the next
            // one leaves no gap.
            let index = try await registry.store.get(registry.keys.engineVersion, recursive: false, quorum: false).index
            try state.withLock { s in
                guard s.pump == nil else { return }
                let watch = try registry.store.subscribe(jobsDirectory, recursive: true, fromIndex: index + 1)
                s.pumpGeneration += 1
                let generation = s.pumpGeneration
                s.watch = watch
                s.pump = Task.detached { [weak self] in await self?.pump(watch, generation: generation) }
            }
        }
        let inbox = JobEventInbox(capacity: bufferSize)
        return state.withLock { s in
            s.nextID += 1
            let id = s.nextID
            let failure = FailureBox()
            let subscription = Subscription(feed: self, id: id, inbox: inbox, failure: failure)
            s.members[id] = Member(machineID: machineID, id: id, inbox: inbox, failure: failure)
            s.byMachine[machineID, default: []].insert(id)
            s.everything.insert(id)
            return subscription
        }
    }

    /// The number of current subscribers (for tests and diagnostics).
    public var subscriberCount: Int { state.withLock { $0.members.count } }

    // MARK: - Routing

    private func pump(_ watch: any StoreWatchSubscription, generation: Int) async {
        var failure: any Error = CancellationError()
        do {
            while let event = try await watch.next() { dispatch(event) }
        } catch {
            failure = error
        }
        watch.cancel()
        // Everyone following this watch has lost events (or the feed stopped): let them re-read.
        let dropped = state.withLock { s -> [Member] in
            guard s.pumpGeneration == generation else { return [] }
            s.pump = nil
            s.watch = nil
            let all = Array(s.members.values)
            s.members = [:]
            s.byMachine = [:]
            s.holders = [:]
            s.everything = []
            return all
        }
        let reason = (failure as? StoreClientError) ?? .unavailable(["job/ watch ended: \(failure)"])
        for member in dropped {
            member.failure.set(reason)
            member.inbox.finish()
        }
    }

    /// The unit and leaf name of a key under `job/` (leaf nil for `job/<u>` itself); nil for other keys.
    func split(_ key: String) -> (unit: Substring, leaf: Substring?)? {
        guard key.hasPrefix(jobsPrefix) else { return nil }
        let rest = key.utf8.dropFirst(jobsPrefix.utf8.count)
        guard !rest.isEmpty else { return nil }
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return (Substring(rest), nil) }
        let leaf = rest[rest.index(after: slash)...]
        guard !leaf.contains(UInt8(ascii: "/")) else { return nil }
        return (Substring(rest[..<slash]), Substring(leaf))
    }

    private func dispatch(_ event: StoreWatchEvent) {
        let key = event.node.key
        var everyone = false
        var unit: String?
        var machine: String?
        if let (u, leaf) = split(key) {
            switch leaf {
            case nil:
                guard event.isRemoval else { return }
            case "target"?:
                if !event.isRemoval { machine = event.node.value }
            case "object"?:
                everyone = !event.isRemoval && AgentRegistryView.mayBeGlobal(event.node.value ?? "")
            case "target-state"?:
                break
            default:
                return  // heartbeats and unknown leaves: every view ignores them
            }
            unit = String(u)
        } else if key == jobsDirectory && event.isRemoval {
            everyone = true
        } else {
            return
        }
        let lost = state.withLock { s -> [Member] in
            var lost: [Member] = []
            func offer(_ id: Int) {
                guard let m = s.members[id] else { return }
                if !m.inbox.push(event) { lost.append(m) }
            }
            if everyone {
                for id in s.members.keys { offer(id) }
            } else {
                var sent = s.everything
                for id in s.everything { offer(id) }
                if let unit, let ids = s.holders[unit] {
                    for id in ids where sent.insert(id).inserted { offer(id) }
                }
                if let machine, let ids = s.byMachine[machine] {
                    for id in ids where sent.insert(id).inserted { offer(id) }
                }
            }
            for m in lost { Self.remove(m.id, from: &s) }
            return lost
        }
        for member in lost {
            member.failure.set(.historyCleared(currentIndex: event.node.modifiedIndex))
            member.inbox.finish()
        }
    }

    private static func remove(_ id: Int, from s: inout State) {
        guard let m = s.members.removeValue(forKey: id) else { return }
        s.byMachine[m.machineID]?.remove(id)
        if s.byMachine[m.machineID]?.isEmpty == true { s.byMachine[m.machineID] = nil }
        for unit in m.units { dropHolder(id, unit, from: &s) }
        s.everything.remove(id)
    }

    private static func dropHolder(_ id: Int, _ unit: String, from s: inout State) {
        s.holders[unit]?.remove(id)
        if s.holders[unit]?.isEmpty == true { s.holders[unit] = nil }
    }

    fileprivate func leave(_ id: Int) {
        let (member, stop) = state.withLock { s -> (Member?, (any StoreWatchSubscription)?) in
            let m = s.members[id]
            Self.remove(id, from: &s)
            guard s.members.isEmpty, s.pump != nil else { return (m, nil) }
            // Nobody left: stop the shared watch (a later subscriber starts a new one).
            s.pumpGeneration += 1
            s.pump?.cancel()
            s.pump = nil
            defer { s.watch = nil }
            return (m, s.watch)
        }
        member?.inbox.finish()
        stop?.cancel()
    }

    fileprivate func want(_ id: Int, _ unit: String) {
        state.withLock { s in
            guard s.members[id]?.units.insert(unit).inserted == true else { return }
            s.holders[unit, default: []].insert(id)
        }
    }

    fileprivate func drop(_ id: Int, _ unit: String) {
        state.withLock { s in
            guard s.members[id]?.units.remove(unit) != nil else { return }
            Self.dropHolder(id, unit, from: &s)
        }
    }

    fileprivate func narrow(_ id: Int, to units: Set<String>) {
        state.withLock { s in
            guard var m = s.members[id] else { return }
            for unit in m.units.subtracting(units) { Self.dropHolder(id, unit, from: &s) }
            for unit in units.subtracting(m.units) { s.holders[unit, default: []].insert(id) }
            m.units = units
            m.everything = false
            s.members[id] = m
            s.everything.remove(id)
        }
    }

    /// One subscriber's end of the feed. One task consumes ``next()``.
    public final class Subscription: @unchecked Sendable {
        let id: Int
        private weak var feed: JobEventFeed?
        private let inbox: JobEventInbox
        private let failure: FailureBox

        fileprivate init(feed: JobEventFeed, id: Int, inbox: JobEventInbox, failure: FailureBox) {
            self.feed = feed
            self.id = id
            self.failure = failure
            self.inbox = inbox
        }

        /// The next event routed here, in store order; nil once cancelled. Throws `historyCleared`
        /// if this subscriber fell too far behind, or the shared watch's error: re-subscribe and re-read.
        public func next() async throws -> StoreWatchEvent? {
            if let event = await inbox.next() { return event }
            if let failure = failure.value { throw failure }
            return nil
        }

        /// Every event routed here and not yet taken, in store order, waiting for at least one;
        /// nil once cancelled. Throws as ``next()`` does. The events queued before a drop are
        /// still handed out first, as by ``next()``.
        public func nextBatch() async throws -> [StoreWatchEvent]? {
            if let events = await inbox.nextBatch() { return events }
            if let failure = failure.value { throw failure }
            return nil
        }

        /// Events routed here and not yet taken (tests and diagnostics).
        var queued: Int { inbox.queued }

        /// Receive every event about `unit` (call before reading it, and while the view keeps it).
        public func want(_ unit: String) { feed?.want(id, unit) }

        /// Stop receiving the events about `unit` that only its holders get.
        public func drop(_ unit: String) { feed?.drop(id, unit) }

        /// Ends the full-read phase: from now on receive only `units`' events and the routed ones.
        public func narrow(to units: Set<String>) { feed?.narrow(id, to: units) }

        /// Leaves the feed. Idempotent.
        public func cancel() { feed?.leave(id) }

        deinit { feed?.leave(id) }
    }

    /// Why a subscriber was dropped (set by the feed, read by the subscriber).
    fileprivate final class FailureBox: Sendable {
        private let error = Mutex<StoreClientError?>(nil)
        var value: StoreClientError? { error.withLock { $0 } }
        func set(_ e: StoreClientError) { error.withLock { $0 = e } }
    }
}
