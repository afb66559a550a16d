import Testing
import TestSupport

/// The harness itself: machines boot with real systemd, reach each other, can be cut off,
/// killed and restarted, and nothing is left behind.
@Suite struct TestbedTests {
    @Test func machinesBootReachEachOtherAndAreTornDown() async throws {
        let bed = try await Testbed.boot("tbt", machines: 2)
        var tornDown = false
        defer { if !tornDown { bed.shutdown() } }
        let (a, b) = (bed.machines[0], bed.machines[1])

        // Real systemd is PID 1 and finished booting.
        let state = try bed.run(on: a, ["systemctl", "is-system-running"])
        #expect(["running", "degraded"].contains(state.stdout.trimmingWhitespace()))
        let comm = try bed.run(on: a, ["cat", "/proc/1/comm"])
        #expect(comm.stdout.trimmingWhitespace() == "systemd")

        // Each machine has its own machine ID.
        let idA = try bed.run(on: a, ["cat", "/etc/machine-id"]).stdout
        let idB = try bed.run(on: b, ["cat", "/etc/machine-id"]).stdout
        #expect(idA.count >= 32 && idA != idB)

        // b is reachable from a (connection refused = the host answered), and not when cut.
        #expect(try probe(bed, from: a, to: b) == .answered)
        try bed.cut(b)
        #expect(try probe(bed, from: a, to: b) == .silent)
        try bed.restore(b)
        #expect(try probe(bed, from: a, to: b) == .answered)

        // A killed machine comes back with a new PID 1.
        try bed.kill(b)
        #expect(try bed.run(on: b, ["true"]).status != 0)
        let b2 = try await bed.start(b)
        #expect(b2.leaderPID != b.leaderPID)
        #expect(try bed.run(on: b2, ["true"]).succeeded)

        bed.shutdown()
        tornDown = true
        let left = try ChildProcess.check(["ip", "netns", "list"]).stdout
        #expect(!left.contains(bed.name))
        let links = try ChildProcess.check(["ip", "-o", "link"]).stdout
        #expect(!links.contains(bed.name))
        #expect(try ChildProcess.run([Testbed.script, "list", bed.name]).status != 0)
    }

    enum Reach { case answered, silent }

    private func probe(_ bed: Testbed, from: TestMachine, to: TestMachine) throws -> Reach {
        let r = try bed.run(on: from, ["timeout", "1", "bash", "-c", "echo > /dev/tcp/\(to.address)/9"])
        return r.stderr.contains("Connection refused") ? .answered : .silent
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
