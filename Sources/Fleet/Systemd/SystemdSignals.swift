import Synchronization

/// Fans systemd's signals out to any number of ``UnitEvent`` sequences.
///
/// One set of matches per connection (JobRemoved, Reloading, PropertiesChanged under the unit path
/// namespace), installed on first use together with `Subscribe`; each consumer gets its own buffered
/// `AsyncThrowingStream`. Decoding happens on the bus thread, yielding is thread-safe.
final class SystemdSignals: Sendable {
    private struct State {
        var nextID = 0
        var consumers: [Int: AsyncThrowingStream<UnitEvent, any Error>.Continuation] = [:]
        var finished: SystemdError?
        var installing: Task<Void, any Error>?
        var installed = false
    }

    private let bus: SystemdBus
    private let state = Mutex(State())

    init(bus: SystemdBus) {
        self.bus = bus
    }

    deinit {
        // The matches hold us weakly; without this, consumers of a released manager would wait forever.
        finish(.disconnected(reason: "the SystemdManager was released"))
    }

    func stream() async throws -> AsyncThrowingStream<UnitEvent, any Error> {
        try await ensureInstalled()
        let (stream, continuation) = AsyncThrowingStream<UnitEvent, any Error>.makeStream()
        let id: Int? = state.withLock { state in
            if let finished = state.finished {
                continuation.finish(throwing: finished)
                return nil
            }
            let id = state.nextID
            state.nextID += 1
            state.consumers[id] = continuation
            return id
        }
        if let id {
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.consumers.removeValue(forKey: id) }
            }
        }
        return stream
    }

    private func ensureInstalled() async throws {
        let task: Task<Void, any Error> = state.withLock { state in
            if let installing = state.installing { return installing }
            let task = Task { [self] in try await install() }
            state.installing = task
            return task
        }
        do {
            try await task.value
        } catch {
            state.withLock { state in
                if !state.installed { state.installing = nil }
            }
            throw error
        }
    }

    private func install() async throws {
        // On a direct connection only systemd talks to us and messages may carry no sender at all, which
        // a sender match would reject; on a bus the sender keeps other services' signals out.
        let sender = bus.address.isDirect ? nil : SystemdManager.destination
        let manager = SystemdManager.managerInterface
        let rules: [MatchRule] = [
            MatchRule(
                sender: sender, path: BusPath.manager, interface: manager, member: "JobRemoved"),
            MatchRule(
                sender: sender, path: BusPath.manager, interface: manager, member: "Reloading"),
            MatchRule(
                sender: sender, pathNamespace: BusPath.unitPrefix, interface: "org.freedesktop.DBus.Properties",
                member: "PropertiesChanged"),
        ]
        var installed: [BusMatch] = []
        do {
            for rule in rules {
                installed.append(try await addMatch(rule))
            }
            try await bus.call(SystemdManager.manager("Subscribe"))
        } catch {
            for match in installed { match.cancel() }
            throw error
        }
        state.withLock { $0.installed = true }
    }

    private func addMatch(_ rule: MatchRule) async throws -> BusMatch {
        try await bus.addMatch(
            rule.description,
            handler: { [weak self] reader in
                if let event = try? Self.decode(reader) { self?.broadcast(event) }
            },
            onClose: { [weak self] error in self?.finish(error) })
    }

    private func broadcast(_ event: UnitEvent) {
        state.withLock { state in
            for continuation in state.consumers.values { continuation.yield(event) }
        }
    }

    private func finish(_ error: SystemdError) {
        let consumers = state.withLock { state in
            let consumers = state.consumers
            state.consumers.removeAll()
            if state.finished == nil { state.finished = error }
            return consumers
        }
        for continuation in consumers.values { continuation.finish(throwing: error) }
    }

    /// Decodes one matched signal into an event; nil for signals of no interest.
    static func decode(_ reader: BusMessageReader) throws -> UnitEvent? {
        switch reader.signature {
        case "uoss":
            let removal = JobRemoval(
                id: try reader.readUInt32(), job: try reader.readObjectPath(), unit: try reader.readString(),
                result: JobResult(rawValue: try reader.readString()))
            return .jobRemoved(removal)
        case "b":
            return .reloading(try reader.readBool())
        case "sa{sv}as":
            guard try reader.readString() == SystemdManager.unitInterface,
                let path = reader.path, let unit = BusPath.unitName(fromPath: path)
            else { return nil }
            var change = UnitStateChange(unit: unit)
            _ = try reader.readArray(of: "{sv}") { reader in
                guard try reader.enter("e", "sv") else { throw reader.failure("missing dict entry") }
                switch try reader.readString() {
                case "LoadState": change.loadState = try reader.readStringVariant().map(LoadState.init(rawValue:))
                case "ActiveState": change.activeState = try reader.readStringVariant().map(ActiveState.init(rawValue:))
                case "SubState": change.subState = try reader.readStringVariant()
                default: try reader.skip("v")
                }
                try reader.exit()
            }
            if change.loadState == nil && change.activeState == nil && change.subState == nil { return nil }
            return .stateChanged(change)
        default:
            return nil
        }
    }
}
