/// The systemd operations a boot needs. `SystemdManager` provides them over D-Bus; tests record them.
public protocol BootSystemd: Sendable {
    func daemonReload() async throws
    /// `EnableUnitFiles([unit], runtime, force: true)`.
    func enable(_ unit: String, runtime: Bool) async throws
    /// Queues a job (mode `replace`) without waiting for it, as coreos-cloudinit did: a unit that
    /// waits for its peers (a KV member) must not hold up the rest of the boot.
    func queue(_ command: CloudConfig.UnitCommand, _ unit: String) async throws
}

extension SystemdManager: BootSystemd {
    public func daemonReload() async throws { try await reload() }

    public func enable(_ unit: String, runtime: Bool) async throws {
        _ = try await enableUnitFiles([unit], runtime: runtime, force: true)
    }

    public func queue(_ command: CloudConfig.UnitCommand, _ unit: String) async throws {
        let method: String
        switch command {
        case .start: method = "StartUnit"
        case .stop: method = "StopUnit"
        case .restart: method = "RestartUnit"
        case .reload: method = "ReloadUnit"
        case .tryRestart: method = "TryRestartUnit"
        case .reloadOrRestart: method = "ReloadOrRestartUnit"
        case .reloadOrTryRestart: method = "ReloadOrTryRestartUnit"
        }
        _ = try await unitJob(method, unit, mode: .replace)
    }
}
