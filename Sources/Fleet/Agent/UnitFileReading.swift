import Foundation

/// A ``UnitManager`` that can show the unit files it holds, so an agent starting on a machine that
/// already has files (fleetd restarted without a reboot) can hash them and keep the ones still
/// desired instead of reloading everything.
///
/// Optional: with a manager that does not conform, adopted files have an unknown hash and are
/// rewritten once.
public protocol UnitFileReading: Sendable {
    /// The text of unit `name`'s file, or nil if there is none.
    func unitFileContents(_ name: String) async throws -> String?
}

extension SystemdUnitManager: UnitFileReading {
    public func unitFileContents(_ name: String) async throws -> String? {
        try Self.validate(name)
        let path = hostRoot + unitsDirectory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

extension InMemoryUnitManager: UnitFileReading {
    public func unitFileContents(_ name: String) async throws -> String? { contents(of: name) }
}
