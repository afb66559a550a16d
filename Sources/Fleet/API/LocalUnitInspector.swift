/// What the agent of this machine can tell about a unit running here: a `systemctl status`-like
/// report and its journal. fleet had no API for this (fleetctl ran `systemctl`/`journalctl` over
/// SSH); the API server asks this, and forwards to the right machine's fleetd when the unit runs
/// elsewhere.
///
/// ``SystemdUnitInspector`` reads the local systemd and journal; tests use a fake.
public protocol LocalUnitInspector: Sendable {
    /// A human-readable status report of `unit` on this machine.
    func status(_ unit: String) async throws -> String

    /// The last `lines` journal lines of `unit`, formatted for display (one line per element, no
    /// trailing newline); with `follow`, then new lines as they are written until the consumer stops.
    func journal(_ unit: String, lines: Int, follow: Bool) async throws -> AsyncThrowingStream<String, any Error>
}
