#if canImport(Glibc)
import Glibc
#endif
import Fleet
import KV
import Logging

/// `fleetd [fleet flags]`: the cluster daemon. Reads fleet's configuration (flags, FLEET_*,
/// fleet.conf) and, when ETCD_* variables are set (a machine whose cloud-config has coreos.etcd2),
/// also runs a KV member in this process and uses it directly instead of over HTTP.
enum DaemonCommand {
    static func run(_ args: [String], environment: [String: String]) async {
        let config: FleetConfig
        switch Result(catching: { () throws(FleetConfigFailure) in
            try FleetConfig.startup(arguments: args, environment: environment)
        }) {
        case .failure(let failure):
            FleetdCommand.fail("fleetd: " + failure.errors.map(\.description).joined(separator: "\nfleetd: ")
                + "\n(fleetd --help lists the options)", status: 64)
        case .success(.help):
            print(FleetConfig.usage)
            return
        case .success(.version):
            print("fleetd version \(FleetModule.version)")
            return
        case .success(.run(let c, let warnings)):
            for w in warnings { writeStandardError("fleetd: warning: \(w)\n") }
            config = c
        }
        let logger = Logger(label: "fleetd")
        let notifier = ServiceNotifier.fromEnvironment()
        do {
            try await serve(config: config, environment: environment, notifier: notifier, logger: logger)
        } catch {
            _ = try? notifier.status("failed: \(error)")
            FleetdCommand.fail("fleetd: \(error)", status: 1)
        }
    }

    static func serve(
        config: FleetConfig, environment: [String: String], notifier: ServiceNotifier, logger: Logger
    ) async throws {
        let activation = try SocketActivation.fromEnvironment(environment)
        activation.adopt()
        let listeners = try FleetDaemon.apiListeners(config: config, activation: activation)
        let apiTLS = try FleetDaemon.apiServerTLS(config: config, listeners: listeners)
        let forwardTLS = try FleetDaemon.apiForwardTLSClient(config: config)
        var machine = try MachineIdentity.local(config: config)

        // The store: with ETCD_* a KV node runs in this process. A member is used in process; a proxy
        // (coreos.etcd2 proxy: on) serves its client URLs and Fleet talks to etcd_servers over HTTP,
        // as it does on a worker without ETCD_*.
        var node: KVNode?
        if runsKVMember(environment) {
            _ = try? notifier.status("starting the KV node")
            let kv: KVConfig
            switch try KVConfig.parse(arguments: [], environment: environment) {
            case .run(let c, let warnings):
                for w in warnings { logger.warning("kv: \(w)") }
                kv = c
            case .help, .version:
                throw FleetDaemonError.store("ETCD_* settings asked for help or version instead of a member")
            }
            node = try await KVNode.start(config: kv, logger: Logger(label: "kv"))
        }
        let member = node?.member
        let store: any StoreClient
        if let member {
            store = InProcessStoreClient(backend: member)
        } else {
            store = try FleetDaemon.remoteStore(config: config)
        }

        _ = try? notifier.status("connecting to systemd")
        let systemd: SystemdManager
        do {
            systemd = try await SystemdManager.connect(config.systemdUser ? .custom(address: "", busClient: true) : .automatic)
        } catch {
            throw FleetDaemonError.systemd("\(error)")
        }
        let units = SystemdUnitManager(systemd: systemd, unitsDirectory: config.unitsDirectory)
        machine.apiURL = FleetDaemon.advertisedAPIURL(config: config, machine: machine, listeners: listeners)

        let daemon = try await FleetDaemon.start(
            FleetDaemon.Parts(
                config: config, machine: machine, store: store, units: units, apiListeners: listeners,
                apiTLS: apiTLS,
                makeAPI: FleetDaemon.standardAPI(config: config, forwardTLSClient: forwardTLS)),
            logger: logger)
        let role = member != nil ? " (KV member)" : node != nil ? " (KV proxy)" : ""
        _ = try? notifier.ready(status: "serving; machine \(machine.shortID)\(role)")
        let kvMember = member
        let watchdog = ServiceNotifier.watchdogPingInterval().map { interval in
            Task {
                while !Task.isCancelled {
                    if kvMember?.isLoopAlive(within: interval) ?? true { _ = try? notifier.watchdog() }
                    try? await Task.sleep(for: interval)
                }
            }
        }
        await FleetdCommand.waitForTermination()
        _ = try? notifier.stopping()
        _ = try? notifier.status("stopping: unloading units")
        watchdog?.cancel()
        await daemon.shutdown(purge: true)
        await node?.shutdown()
        systemd.close()
    }

    /// A machine runs a KV member when any ETCD_* variable is set (cloud-config's coreos.etcd2
    /// becomes such variables in fleetd.service's drop-in). ETCDCTL_* does not count.
    static func runsKVMember(_ environment: [String: String]) -> Bool {
        environment.keys.contains { $0.hasPrefix("ETCD_") }
    }
}
