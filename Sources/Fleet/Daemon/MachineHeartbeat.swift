import Logging

/// Keeps this machine present in the registry: `machines/<id>/object` with a TTL, refreshed well
/// before it expires, created again if it did expire, removed on a graceful shutdown.
///
/// Why refresh instead of rewrite: a TTL refresh does not wake watchers, so a quiet cluster of a
/// thousand machines causes no engine passes (fleet rewrote the object every 15 s on every machine).
///
/// Why a restart does not wait for the TTL: the record left by our own previous run (same machine
/// ID, same address) is taken over at once. A record with our ID but another address belongs to a
/// different machine with a cloned machine-id; then we wait, loudly, rather than fight over it.
public actor MachineHeartbeat {
    public let registry: Registry
    public private(set) var machine: MachineState
    /// TTL of the record in seconds (`agent_ttl`).
    public let ttl: Int
    private let logger: Logger
    public private(set) var isPresent = false

    /// How long ``run()`` waits for one refresh before it gives up on it and tries again.
    public let attemptTimeout: Duration
    /// The pause after a failed or abandoned refresh before the next attempt.
    public let retryPause: Duration

    /// `attemptTimeout` defaults to a refresh interval, at most 1 s (fleetd's `etcd_request_timeout`).
    public init(
        registry: Registry, machine: MachineState, ttl: Int, attemptTimeout: Duration? = nil,
        retryPause: Duration = .milliseconds(250), logger: Logger = Logger(label: "fleet.presence")
    ) {
        self.registry = registry
        self.machine = machine
        self.ttl = max(1, ttl)
        self.attemptTimeout = attemptTimeout ?? min(.milliseconds(max(1, ttl) * 1000 / 3), .seconds(1))
        self.retryPause = retryPause
        self.logger = logger
    }

    /// The refresh period: a third of the TTL, so two refreshes may fail before the record expires.
    public var refreshInterval: Duration { .milliseconds(ttl * 1000 / 3) }

    /// Announces the machine, retrying with a backoff of 1 s doubling to 1 min (fleet's) until it
    /// succeeds or the task is cancelled. Returns whether the machine is present.
    @discardableResult
    public func announce() async -> Bool {
        var backoff = Duration.seconds(1)
        while !Task.isCancelled {
            do {
                try await announceOnce()
                return true
            } catch {
                logger.warning("cannot announce machine \(machine.id): \(error); retrying in \(backoff)")
            }
            do { try await Task.sleep(for: backoff) } catch { return false }
            backoff = min(backoff * 2, .seconds(60))
        }
        return false
    }

    /// One attempt: create the record, or take over our own stale one.
    public func announceOnce() async throws(RegistryError) {
        do {
            try await registry.createMachine(machine, ttl: ttl)
        } catch .machineAlreadyPresent(let id) {
            let existing = try await registry.machine(id)
            guard let existing else {
                // Expired between the two calls: create again.
                try await registry.createMachine(machine, ttl: ttl)
                isPresent = true
                return
            }
            guard existing.publicIP == machine.publicIP else {
                throw .machineAlreadyPresent(id)
            }
            try await registry.updateMachine(machine, ttl: ttl)
            logger.info("took over the presence record left by this machine's previous fleetd")
        }
        isPresent = true
        logger.info("machine \(machine.id) present at \(machine.publicIP.isEmpty ? "(no address)" : machine.publicIP)")
    }

    /// One heartbeat: refresh the TTL; announce again if the record expired meanwhile (the store was
    /// unreachable for longer than the TTL, or someone deleted it).
    public func refresh() async throws(RegistryError) {
        do {
            try await registry.refreshMachine(machine.id, ttl: ttl)
            isPresent = true
        } catch .machineNotPresent {
            isPresent = false
            logger.warning("machine \(machine.id) had expired from the registry; announcing it again")
            try await announceOnce()
        }
    }

    /// Changes the record (address or metadata) and rewrites it.
    public func update(_ state: MachineState) async throws(RegistryError) {
        machine = state
        try await registry.updateMachine(state, ttl: ttl)
    }

    /// The longest time seen between two successful refreshes in ``run()``, nil before the second.
    /// Once it nears ``ttl`` the record expires while fleetd lives and its units are moved (a flap):
    /// this is the figure that decides how short `machine_ttl` may be on a loaded machine.
    public private(set) var longestRefreshGap: Duration?

    /// Heartbeats until cancelled. A failed refresh is retried after ``retryPause``; the units of this
    /// machine keep running meanwhile (the agent never stops units because the store failed).
    /// A refresh that comes late (more than 1.5 refresh intervals after the previous one) is logged
    /// with its gap, so a loaded machine's journal shows how close its record came to expiring.
    ///
    /// Each refresh is waited for at most ``attemptTimeout``, then abandoned (it may still commit
    /// later, harmlessly) and tried again. Why: when the Raft leader dies, a member forwards the
    /// proposals it gets to that dead leader until it notices (1–2 s), and they are lost; the
    /// in-process store client then waited for the member's request timeout (7 s) while this
    /// machine's record (TTL 4 s) ran out, so a living machine lost its units (bench-fleet
    /// 2026-11-24 15:15 UTC: a refresh 9.4 s after the previous one). Retried, the refresh reaches
    /// the new leader about as soon as one exists (docs/daemon.md, the grace after an election).
    public func run() async {
        var lastRefresh: ContinuousClock.Instant?
        while !Task.isCancelled {
            var pause = refreshInterval
            do {
                try await refreshWithin(attemptTimeout)
                let now = ContinuousClock.now
                if let lastRefresh { noteRefreshGap(now - lastRefresh) }
                lastRefresh = now
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot refresh machine \(machine.id) presence: \(error)")
                pause = min(pause, retryPause)
            }
            do { try await Task.sleep(for: pause) } catch { return }
        }
    }

    /// ``refresh()``, waited for at most `timeout`; the abandoned attempt runs on by itself.
    func refreshWithin(_ timeout: Duration) async throws {
        let (outcome, finish) = AsyncThrowingStream<Void, any Error>.makeStream()
        Task {
            do {
                try await self.refresh()
                finish.finish()
            } catch {
                finish.finish(throwing: error)
            }
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            finish.finish(throwing: MachineHeartbeatError.refreshTimedOut(timeout))
        }
        defer { timer.cancel() }
        for try await _ in outcome {}
        try Task.checkCancellation()
    }

    private func noteRefreshGap(_ gap: Duration) {
        longestRefreshGap = max(longestRefreshGap ?? .zero, gap)
        guard gap > refreshInterval * 3 / 2 else { return }
        let message: Logger.Message = "presence refreshed \(gap) after the previous refresh (record TTL \(ttl) s)"
        if gap >= .seconds(ttl) * 2 / 3 { logger.warning(message) } else { logger.notice(message) }
    }

    /// Removes the record (graceful shutdown) so the engine moves this machine's units at once.
    public func withdraw() async {
        do {
            try await registry.removeMachine(machine.id)
            logger.info("machine \(machine.id) removed from the registry")
        } catch .machineNotPresent {
        } catch {
            logger.warning("cannot remove machine \(machine.id) from the registry: \(error)")
        }
        isPresent = false
    }
}
