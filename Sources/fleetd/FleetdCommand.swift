#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Fleet
import KV
import Logging

/// fleetd: the daemon. Dispatches on the first argument and wires the libraries together; no
/// logic lives here.
///
///     fleetd [fleet flags]       the cluster daemon: agent, engine, API (and a KV member with ETCD_*)
///     fleetd kv [etcd flags]     a key-value store member, a drop-in for the etcd command
///     fleetd validate FILE       check a cloud-config user-data file
///     fleetd version
@main
enum FleetdCommand {
    static func main() async {
        var args = Array(CommandLine.arguments.dropFirst())
        let environment = Dictionary(ProcessInfoLite.environment, uniquingKeysWith: { $1 })
        LoggingSystem.bootstrap { DaemonLogHandler(label: $0) }
        switch args.first {
        case "kv":
            args.removeFirst()
            await runKV(args, environment: environment)
        case "unit":
            args.removeFirst()
            await runUnit(args)
        case "boot":
            args.removeFirst()
            await runBoot(args, environment: environment)
        case "validate":
            guard args.count == 2 else { fail("usage: fleetd validate FILE", status: 64) }
            let (text, status) = CloudConfig.validateFile(atPath: args[1])
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            exit(status)
        case "version", "--version", "-v":
            print("fleetd version \(FleetModule.version)")
        case "-h", "--help", "help":
            print(usage)
            print(FleetConfig.usage)
        case nil:
            await DaemonCommand.run([], environment: environment)
        case let flag? where flag.hasPrefix("-"):
            await DaemonCommand.run(args, environment: environment)
        case let other?:
            fail("unknown command '\(other)'\n\n" + usage, status: 64)
        }
    }

    static let usage = """
        Usage:
          fleetd [--config PATH] [--OPTION=VALUE ...]
                                    run the cluster daemon: fleet agent, engine and API; with ETCD_* variables
                                    (cloud-config coreos.etcd2) also a KV member in the same process
          fleetd kv [etcd flags]    run a key-value store member (etcd's flags and ETCD_* variables; fleetd kv --help)
          fleetd unit start FILE | stop NAME | status NAME | journal NAME [-n N] [-f]
                                    drive this machine's systemd directly (as the agent does)
          fleetd boot FILE [--plan] apply a cloud-config user-data file to this machine (hostname, users, files,
                                    units, fleetd.service drop-in), as coreos-cloudinit did; --plan prints the steps
                                    only. A file with errors changes nothing (exit 1); a failed step exits 1
          fleetd validate FILE      validate a cloud-config user-data file (exit 0 clean, 1 errors, 2 warnings only)
          fleetd version            print the version
        """

    static func runKV(_ args: [String], environment: [String: String]) async {
        let config: KVConfig
        do {
            switch try KVConfig.parse(arguments: args, environment: environment) {
            case .help:
                print(KVConfig.usage)
                return
            case .version:
                print("fleetd kv version \(FleetModule.version) (etcd API \(ClientAPI.serverVersion))")
                return
            case .run(let c, let warnings):
                for w in warnings { writeStandardError("fleetd kv: warning: \(w)\n") }
                config = c
            }
        } catch {
            fail("fleetd kv: \(error)", status: 64)
        }
        let logger = Logger(label: "kv")
        let running: KVNode
        do {
            running = try await KVNode.start(config: config, logger: logger)
        } catch {
            fail("fleetd kv: \(error)", status: 1)
        }
        let notifier = ServiceNotifier.fromEnvironment()
        _ = try? notifier.ready(status: "serving clients on \(config.listenClientURLs.map(\.description).joined(separator: ","))")
        // WatchdogSec=: ping while the Raft loop ticks; a wedged loop stops the pings.
        let watchdog = ServiceNotifier.watchdogPingInterval().map { interval in
            Task {
                while !Task.isCancelled {
                    // A proxy has no Raft loop to wedge: it pings while its process runs.
                    if running.member?.isLoopAlive(within: interval) ?? true { _ = try? notifier.watchdog() }
                    try? await Task.sleep(for: interval)
                }
            }
        }
        await waitForTermination()
        watchdog?.cancel()
        _ = try? notifier.stopping()
        await running.shutdown()
    }

    static func runUnit(_ args: [String]) async {
        let usage = "usage: fleetd unit start FILE | stop NAME | status NAME | journal NAME [-n N] [-f]"
        guard args.count >= 2 else { fail(usage, status: 64) }
        do {
            switch args[0] {
            case "start":
                let state = try await LocalUnits.start(file: args[1])
                print("\(args[1].split(separator: "/").last ?? ""): \(state)")
            case "stop":
                print("\(args[1]): \(try await LocalUnits.stop(args[1]))")
            case "status":
                print("\(args[1]): \(try await LocalUnits.state(args[1]))")
            case "journal":
                var lines = 10
                var follow = false
                var i = 2
                while i < args.count {
                    switch args[i] {
                    case "-n", "--lines":
                        guard i + 1 < args.count, let n = Int(args[i + 1]), n >= 0 else { fail("-n needs a number", status: 64) }
                        lines = n
                        i += 1
                    case "-f", "--follow": follow = true
                    default: fail("unknown option '\(args[i])'\n" + usage, status: 64)
                    }
                    i += 1
                }
                for try await entry in Journal.entries(unit: args[1], lines: lines, follow: follow) {
                    print(entry.message)
                }
            default:
                fail(usage, status: 64)
            }
        } catch {
            fail("fleetd unit \(args[0]) \(args[1]): \(error)", status: 1)
        }
    }

    static func runBoot(_ args: [String], environment: [String: String]) async {
        let usage = "usage: fleetd boot FILE [--plan]"
        let planOnly = args.contains("--plan")
        let files = args.filter { $0 != "--plan" }
        guard files.count == 1, !files[0].hasPrefix("-") else { fail(usage, status: 64) }
        let plan: BootPlan
        do {
            plan = try BootPlan.load(path: files[0], environment: environment)
        } catch {
            fail("fleetd boot: \(files[0]) is not usable; nothing was changed:\n\(error.report.text)", status: 1)
        }
        if !plan.report.diagnostics.isEmpty { writeStandardError(plan.report.text) }
        if planOnly {
            print(plan.text, terminator: "")
            return
        }
        do {
            let systemd = try await SystemdManager.connect()
            defer { systemd.close() }
            try await BootRunner(systemd: systemd).run(plan) { print("fleetd boot: \($0)") }
            print("fleetd boot: done (\(plan.actions.count) steps)")
        } catch {
            fail("fleetd boot: \(error)", status: 1)
        }
    }

    /// Waits for SIGTERM or SIGINT (handled off the main actor: see swift-notes).
    static func waitForTermination() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            SignalWaiter.shared.wait(for: [SIGTERM, SIGINT]) { continuation.resume() }
        }
    }

    static func fail(_ message: String, status: Int32) -> Never {
        writeStandardError(message + "\n")
        exit(status)
    }
}

/// Delivers the first of some signals once, on a queue of its own.
final class SignalWaiter: @unchecked Sendable {
    static let shared = SignalWaiter()
    private let queue = DispatchQueue(label: "fleetd.signals")
    private var sources: [DispatchSourceSignal] = []
    private var fired = false

    func wait(for signals: [Int32], _ handler: @escaping @Sendable () -> Void) {
        queue.sync {
            for sig in signals {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                source.setEventHandler { @Sendable [self] in
                    // Runs on `queue`, so `fired` is only touched there.
                    if !self.fired {
                        self.fired = true
                        handler()
                    }
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}

/// The process environment without Foundation.
enum ProcessInfoLite {
    static var environment: [(String, String)] {
        var out: [(String, String)] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                out.append((String(s[..<eq]), String(s[s.index(after: eq)...])))
            }
            p += 1
        }
        return out
    }
}
