import Testing
@testable import Fleet

/// The `systemctl status`-like text served by `GET /units/<name>/status`.
@Suite struct UnitStatusReportTests {
    @Test func layoutFollowsSystemctlStatus() {
        var report = UnitStatusReport(
            name: "hello.service", description: "Hello",
            state: UnitState(loadState: .loaded, activeState: .active, subState: "running"),
            fragmentPath: "/run/fleet/units/hello.service", unitFileState: "linked-runtime", machineID: "m1",
            journal: ["Nov 24 02:03:04 hello.service[42]: hi"])
        #expect(report.text == """
            ● hello.service - Hello
                 Loaded: loaded (/run/fleet/units/hello.service; linked-runtime)
                 Active: active (running)
                Machine: m1

            Nov 24 02:03:04 hello.service[42]: hi

            """)
        report = UnitStatusReport(
            name: "gone.service", description: "gone.service",
            state: UnitState(loadState: .notFound, activeState: .inactive, subState: "dead"))
        #expect(report.text == "○ gone.service\n     Loaded: not-found\n     Active: inactive (dead)\n")
        report.state.activeState = .failed
        #expect(report.text.hasPrefix("× gone.service\n"))
    }

    @Test func journalLinesLookLikeJournalctlShort() {
        let entry = JournalEntry(message: "hi there", realtimeUSec: 1_700_000_000_000_000, priority: 6, pid: 42,
                                 unit: "hello.service", cursor: "c")
        let line = entry.shortLine
        #expect(line.hasSuffix(" hello.service[42]: hi there"))
        #expect(line.split(separator: " ").count == 6)  // "Nov 14 22:13:20 hello.service[42]: hi there"
        // journalctl prints SYSLOG_IDENTIFIER (else _COMM), e.g. "systemd[1]" for PID 1's messages.
        let fromSystemd = JournalEntry(message: "Started hello.service.", realtimeUSec: 1_700_000_000_000_000,
                                       priority: 6, pid: 1, unit: "init.scope", cursor: "c", identifier: "systemd")
        #expect(fromSystemd.shortLine.hasSuffix(" systemd[1]: Started hello.service."))
        let bare = JournalEntry(message: "m", realtimeUSec: 0, priority: nil, pid: nil, unit: nil, cursor: "")
        #expect(bare.shortLine.hasSuffix(":00 m"))
    }
}
