#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TestSupport

/// One booted test machine: a systemd-nspawn container with real systemd as PID 1.
struct TestMachine: Sendable, Hashable {
    /// The machine's name, also its hostname and its network namespace (`/run/netns/<name>`).
    var name: String
    /// Its address on the testbed's bridge.
    var address: String
    /// Host PID of the machine's PID 1 (systemd).
    var leaderPID: Int32

    /// The machine's root directory as seen from the host.
    var rootPath: String { "/proc/\(leaderPID)/root" }
    // The host cannot use the machine's /run/systemd/private directly: systemd refuses private
    // connections from outside its PID namespace. Use BusAddress.machineSystemBus(rootPath:) or
    // .machinePrivateBridge(leaderPID:) from the systemd binding instead.
}

/// Real test machines for integration tests, driven through `scripts/testbed`.
///
/// Each testbed has a unique name, so tests may boot testbeds in parallel. Always call
/// `shutdown()` (with `defer`); if the test process dies instead, the script's reaper tears the
/// testbed down once this process is gone.
final class Testbed: Sendable {
    /// The repository root, where `scripts/testbed` lives; bound read-only into every machine.
    static let repositoryRoot: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)  // Tests/IntegrationTests/Support/Testbed.swift
        return parts.joined(separator: "/")
    }()
    static let script = repositoryRoot + "/scripts/testbed"

    let name: String
    private let state: Mutex<[TestMachine]>

    /// The machines, in order (`<name>-1`, `<name>-2`, ...).
    var machines: [TestMachine] { state.withLock { $0 } }

    private init(name: String, machines: [TestMachine]) {
        self.name = name
        self.state = Mutex(machines)
    }

    /// Boots `machines` machines. `prefix` (up to 6 lower-case letters or digits) names the testbed.
    static func boot(_ prefix: String, machines: Int) async throws -> Testbed {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let suffix = String((0..<4).map { _ in alphabet.randomElement()! })
        let name = String(prefix.prefix(6)) + suffix
        let argv = [script, "up", name, String(machines), "--owner-pid", String(getpid()),
                    "--bind-ro", repositoryRoot]
        let result = try await runOffThread(argv)
        guard result.succeeded else {
            throw ChildProcessError(description: "testbed up \(name) failed: \(result)")
        }
        return Testbed(name: name, machines: try parseMachines(result.stdout))
    }

    /// Boots a fleet cluster from the example user-data files (`scripts/cluster up`): machines 1–3
    /// are KV members, machine 4 the worker; returns once every fleetd is active and registered.
    static func bootCluster(_ prefix: String) async throws -> Testbed {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let name = String(prefix.prefix(6)) + String((0..<4).map { _ in alphabet.randomElement()! })
        let argv = [repositoryRoot + "/scripts/cluster", "up", name, "--owner-pid", String(getpid())]
        let result = try await runOffThread(argv)
        let machineLines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("machine ") }.joined(separator: "\n")
        guard result.succeeded else {
            let partial = Testbed(name: name, machines: (try? parseMachines(machineLines)) ?? [])
            partial.shutdown()
            throw ChildProcessError(description: "cluster up \(name) failed: \(result)")
        }
        return Testbed(name: name, machines: try parseMachines(machineLines))
    }

    static func parseMachines(_ text: String) throws -> [TestMachine] {
        try text.split(separator: "\n").map { line in
            let f = line.split(separator: " ")
            guard f.count == 4, f[0] == "machine", let pid = Int32(f[3]) else {
                throw ChildProcessError(description: "unexpected testbed output: \(line)")
            }
            return TestMachine(name: String(f[1]), address: String(f[2]), leaderPID: pid)
        }
    }

    /// Runs a command inside `machine` (all of its namespaces, a clean environment).
    @discardableResult
    func run(on machine: TestMachine, _ argv: [String]) throws -> ProcessResult {
        try ChildProcess.run([Self.script, "exec", machine.name, "--"] + argv)
    }

    /// Runs a command in the hub namespace, from which every machine's address is reachable.
    @discardableResult
    func runInHub(_ argv: [String]) throws -> ProcessResult {
        try ChildProcess.run([Self.script, "hub", name, "--"] + argv)
    }

    /// Shuts a machine down cleanly (systemd stops its units).
    func stop(_ machine: TestMachine) throws { try ChildProcess.check([Self.script, "stop", machine.name]) }

    /// Kills a machine at once (SIGKILL to its PID 1), like pulling the plug.
    func kill(_ machine: TestMachine) throws { try ChildProcess.check([Self.script, "kill", machine.name]) }

    /// Boots a stopped or killed machine again; returns it with its new PID 1.
    @discardableResult
    func start(_ machine: TestMachine) async throws -> TestMachine {
        let result = try await Self.runOffThread([Self.script, "start", machine.name])
        guard result.succeeded, let booted = try Self.parseMachines(result.stdout).first else {
            throw ChildProcessError(description: "testbed start \(machine.name) failed: \(result)")
        }
        state.withLock { machines in
            if let i = machines.firstIndex(where: { $0.name == booted.name }) { machines[i] = booted }
        }
        return booted
    }

    /// Takes the machine's network link down (it can reach nobody and nobody reaches it).
    func cut(_ machine: TestMachine) throws { try ChildProcess.check([Self.script, "cut", machine.name]) }

    /// Brings the machine's network link back up.
    func restore(_ machine: TestMachine) throws { try ChildProcess.check([Self.script, "restore", machine.name]) }

    /// Tears down every machine, namespace and link of this testbed.
    func shutdown() {
        _ = try? ChildProcess.run([Self.script, "down", name])
    }

    /// Runs a blocking command on a thread of its own, so waiting does not hold a concurrency thread.
    static func runOffThread(_ argv: [String]) async throws -> ProcessResult {
        try await runOffThread({ try ChildProcess.run($0) }, argv)
    }

    /// Runs a blocking function on a thread of its own (servers under test keep their threads).
    static func runOffThread<A: Sendable, R: Sendable>(_ body: @escaping @Sendable (A) throws -> R, _ argument: A) async throws -> R {
        try await withCheckedThrowingContinuation { continuation in
            let box = Box { continuation.resume(with: Result { try body(argument) }) }
            let raw = Unmanaged.passRetained(box).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
                box.body()
                return nil
            }, raw)
            if rc != 0 {
                Unmanaged<Box>.fromOpaque(raw).release()
                continuation.resume(throwing: ChildProcessError(description: "pthread_create failed: \(rc)"))
            } else {
                pthread_detach(thread)
            }
        }
    }

    private final class Box: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
