/// ``LocalUnitInspector`` over this machine's systemd (D-Bus) and journal (sd-journal): what
/// `fleetctl status` and `fleetctl journal` used to run over SSH.
public struct SystemdUnitInspector: LocalUnitInspector {
    public let machineID: String?
    public let address: BusAddress
    /// Journal lines included in a status report (systemctl shows 10).
    public let statusJournalLines: Int

    public init(machineID: String? = nil, address: BusAddress = .automatic, statusJournalLines: Int = 10) {
        self.machineID = machineID
        self.address = address
        self.statusJournalLines = statusJournalLines
    }

    public func status(_ unit: String) async throws -> String {
        let systemd = try await SystemdManager.connect(address)
        defer { systemd.close() }
        guard let row = try await systemd.listUnits(names: [unit]).first(where: { $0.name == unit }) else {
            throw SystemdError.unexpectedReply(member: "ListUnitsByNames", detail: "no row for \(unit)")
        }
        var report = UnitStatusReport(name: unit, description: row.description, state: row.state, machineID: machineID)
        if row.loadState != .notFound {
            report.fragmentPath = (try? await systemd.unitProperty(unit, "FragmentPath")) ?? ""
            report.unitFileState = (try? await systemd.unitProperty(unit, "UnitFileState")) ?? ""
        }
        if statusJournalLines > 0 {
            report.journal = try await Journal.read(unit: unit, lines: statusJournalLines).map(\.shortLine)
        }
        return report.text
    }

    public func journal(_ unit: String, lines: Int, follow: Bool) async throws -> AsyncThrowingStream<String, any Error> {
        let entries = Journal.entries(unit: unit, lines: lines, follow: follow)
        let (stream, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let pump = Task {
            do {
                for try await entry in entries { continuation.yield(entry.shortLine) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in pump.cancel() }
        return stream
    }
}
