#if canImport(Glibc)
import Glibc
#endif

/// Unit operations on this machine's systemd, as fleet's agent does them (write under
/// /run/fleet/units, link at runtime, reload, start), for `fleetd unit …` and the demo.
public enum LocalUnits {
    /// Loads a unit file (its base name is the unit name), starts it and waits for the start job.
    public static func start(file path: String, timeout: Duration = .seconds(60)) async throws -> UnitState {
        guard let f = fopen(path, "r") else {
            throw SystemdError.unitFile(path: path, operation: "read", code: errno)
        }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        fclose(f)
        let name = String(path.split(separator: "/").last ?? Substring(path))
        let systemd = try await SystemdManager.connect()
        defer { systemd.close() }
        let units = SystemdUnitManager(systemd: systemd)
        try await units.load(name, contents: String(decoding: bytes, as: UTF8.self))
        try await units.reloadUnitFiles()
        try await units.verifyLoaded(name)
        try await systemd.startUnitAndWait(name, timeout: timeout)
        return try await systemd.unitState(name)
    }

    /// Stops a unit and waits for the stop job.
    public static func stop(_ name: String, timeout: Duration = .seconds(60)) async throws -> UnitState {
        let systemd = try await SystemdManager.connect()
        defer { systemd.close() }
        try await systemd.stopUnitAndWait(name, timeout: timeout)
        return try await systemd.unitState(name)
    }

    /// The unit's load, active and sub state.
    public static func state(_ name: String) async throws -> UnitState {
        let systemd = try await SystemdManager.connect()
        defer { systemd.close() }
        return try await systemd.unitState(name)
    }
}
