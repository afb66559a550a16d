import Testing

@testable import Fleet

/// The binding against ``FakeSystemdPeer``: real sd-bus on both ends, no systemd needed.
@Suite struct SystemdBusFakePeerTests {
    @Test func decodesRepliesErrorsAndSignals() async throws {
        let peer = try FakeSystemdPeer()
        let manager = try await SystemdManager.connect(peer.address)
        defer {
            manager.close()
            peer.send(.hangUp)
        }

        // A D-Bus error reply keeps its name and message.
        do {
            _ = try await manager.getUnit("nope.service")
            Issue.record("GetUnit succeeded")
        } catch let error as SystemdError {
            #expect(
                error
                    == .dbus(
                        member: "GetUnit",
                        error: BusError(name: BusError.Name.noSuchUnit, message: "Unit nope.service not loaded.")))
        }

        let rows = try await manager.listUnits(names: ["x.service"])
        #expect(
            rows == [
                UnitStatus(
                    name: "x.service", description: "", loadState: .notFound, activeState: .inactive, subState: "dead",
                    path: BusPath.unitPath("x.service"))
            ])

        // Signals arrive in order, decoded; the variant of another type is skipped.
        let events = try await manager.events()
        let removal = try await manager.runJob(timeout: .seconds(10)) { try await manager.startUnit("web@1.service") }
        #expect(
            removal == JobRemoval(id: 7, job: "/org/freedesktop/systemd1/job/7", unit: "web@1.service", result: .done))
        var seen: [UnitEvent] = []
        for try await event in events {
            seen.append(event)
            if case .jobRemoved = event { break }
        }
        #expect(
            seen == [
                .stateChanged(UnitStateChange(unit: "web@1.service", activeState: .activating, subState: "start")),
                .stateChanged(UnitStateChange(unit: "web@1.service", activeState: .active, subState: "running")),
                .jobRemoved(removal),
            ])
        #expect(peer.receivedCalls == ["GetUnit", "ListUnitsByNames", "Subscribe", "StartUnit"])
    }

    @Test func aLostConnectionFailsPendingCallsAndEndsEventStreams() async throws {
        let peer = try FakeSystemdPeer()
        let manager = try await SystemdManager.connect(peer.address)
        defer { manager.close() }
        let events = try await manager.events()

        // Reload is never answered; hanging up must fail it rather than leave it waiting for 25 s.
        let reload = Task { try await manager.reload(timeout: .seconds(20)) }
        peer.send(.hangUp)
        await #expect(throws: SystemdError.self) { try await reload.value }

        do {
            for try await _ in events {}
            Issue.record("event stream ended without an error")
        } catch let error as SystemdError {
            guard case .disconnected = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
        // Later calls fail at once.
        await #expect(throws: SystemdError.self) { try await manager.subscribe() }
    }

    @Test func releasingTheManagerEndsEventStreams() async throws {
        let peer = try FakeSystemdPeer()
        defer { peer.send(.hangUp) }
        var manager: SystemdManager? = try await SystemdManager.connect(peer.address)
        let events = try await manager!.events()
        manager = nil
        let ended = Task {
            do {
                for try await _ in events {}
                return "finished without error"
            } catch let error as SystemdError {
                if case .disconnected = error { return "disconnected" }
                return "\(error)"
            }
        }
        // Bounded: a regression would otherwise hang here.
        let timeout = Task {
            try await Task.sleep(for: .seconds(10))
            ended.cancel()
        }
        defer { timeout.cancel() }
        #expect(try await ended.value == "disconnected")
    }
}
