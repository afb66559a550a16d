import Logging
import Synchronization

@testable import Fleet

/// Shared fixtures for the agent suites.
enum AgentFixtures {
    static let machine = MachineState(id: "m1-0000000000000000000000000000", metadata: ["role": "web"])

    /// Keeps test output readable; the agent logs every task at info.
    static let quiet = Logger(label: "fleet.agent.test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func text(_ marker: String = "true", extra: String = "") -> String {
        "[Service]\nExecStart=/bin/\(marker)\n\(extra)"
    }

    static func unit(_ name: String, _ state: FleetState = .launched, marker: String = "true", extra: String = "")
        throws -> RegistryUnit
    {
        try RegistryUnit(name: name, text: text(marker, extra: extra), desiredState: state)
    }

    static func desired(_ name: String, _ state: FleetState = .launched, marker: String = "true") throws
        -> DesiredUnit
    {
        DesiredUnit(try unit(name, state, marker: marker))
    }

    static func hash(_ marker: String = "true") throws -> UnitHash {
        try UnitFile(parsing: text(marker)).hash
    }

    /// Unit-manager operations with each stretch between two daemon-reloads sorted: the executor
    /// issues the tasks of one kind concurrently, so their order within a stretch is not fixed, while
    /// which operations happen and where the reloads fall is.
    static func byReload(_ operations: [String]) -> [[String]] {
        operations.split(separator: "reload", omittingEmptySubsequences: false).map { $0.sorted() }
    }

    /// Whether `first` happened before `then` in `operations` (both present).
    static func happened(_ first: String, before then: String, in operations: [String]) -> Bool {
        guard let a = operations.firstIndex(of: first), let b = operations.firstIndex(of: then) else { return false }
        return a < b
    }
}

/// A failure injected by ``FailingUnitManager``.
struct InjectedFailure: Error, CustomStringConvertible {
    let operation: String
    var description: String { "injected failure of \(operation)" }
}

/// Wraps ``InMemoryUnitManager`` and throws on chosen operations (`"load b.service"`, `"stop a.service"`,
/// `"reload"`, `"unitStates"`) until they are healed, to test failures mid-pass.
final class FailingUnitManager: UnitManager, UnitFileReading {
    let inner = InMemoryUnitManager()
    private let failing = Mutex(Set<String>())

    func fail(_ operation: String) { failing.withLock { _ = $0.insert(operation) } }
    func heal() { failing.withLock { $0.removeAll() } }
    var operations: [String] { inner.operations }

    private func check(_ operation: String) throws {
        if failing.withLock({ $0.contains(operation) }) { throw InjectedFailure(operation: operation) }
    }

    func load(_ name: String, contents: String) async throws {
        try check("load \(name)")
        try await inner.load(name, contents: contents)
    }
    func unload(_ name: String) async throws {
        try check("unload \(name)")
        try await inner.unload(name)
    }
    func reloadUnitFiles() async throws {
        try check("reload")
        try await inner.reloadUnitFiles()
    }
    func triggerStart(_ name: String) async throws {
        try check("start \(name)")
        try await inner.triggerStart(name)
    }
    func triggerStop(_ name: String) async throws {
        try check("stop \(name)")
        try await inner.triggerStop(name)
    }
    func units() async throws -> [String] {
        try check("units")
        return try await inner.units()
    }
    func unitStates(_ names: [String]) async throws -> [String: UnitState] {
        try check("unitStates")
        return try await inner.unitStates(names)
    }
    /// The next `events()` streams end at once (a dropped bus connection), this many times.
    let droppedStreams = Mutex(0)

    func events() async throws -> AsyncThrowingStream<UnitEvent, any Error> {
        try check("events")
        let drop = droppedStreams.withLock { count in
            defer { count = max(0, count - 1) }
            return count > 0
        }
        if drop {
            let (stream, continuation) = AsyncThrowingStream<UnitEvent, any Error>.makeStream()
            continuation.finish(throwing: InjectedFailure(operation: "events"))
            return stream
        }
        return try await inner.events()
    }
    func unitFileContents(_ name: String) async throws -> String? { inner.contents(of: name) }
}
