import Testing

@testable import Fleet

@Suite struct SystemdErrorTests {
    @Test func busErrorsKeepNameAndMessage() {
        let error = SystemdError.dbus(
            member: "StartUnit",
            error: BusError(name: BusError.Name.noSuchUnit, message: "Unit nope.service not found."))
        #expect(error.isNoSuchUnit)
        #expect(error.busErrorName == "org.freedesktop.systemd1.NoSuchUnit")
        #expect(error.description.contains("Unit nope.service not found."))
        #expect(error.description.contains("StartUnit"))
        #expect(error.description.contains("org.freedesktop.systemd1.NoSuchUnit"))
    }

    @Test func otherErrorsAreNotNoSuchUnit() {
        let error = SystemdError.dbus(
            member: "StartUnit", error: BusError(name: BusError.Name.badUnitSetting, message: "x"))
        #expect(!error.isNoSuchUnit)
        #expect(!SystemdError.disconnected(reason: "x").isNoSuchUnit)
        #expect(SystemdError.disconnected(reason: "x").busErrorName == nil)
    }

    @Test func errnoIsSpelledOut() {
        let error = SystemdError.connectionFailed(address: "unix:path=/nope", code: -2)
        #expect(error.description.contains("No such file or directory"))
        #expect(error.description.contains("unix:path=/nope"))
        #expect(SystemdError.call(operation: "x", code: -13).description.contains("Permission denied"))
    }

    @Test func actionableMessages() {
        #expect(
            SystemdError.unitNotLoaded(unit: "a.service", loadState: "bad-setting").description.contains(
                "journalctl -u a.service"))
        #expect(SystemdError.invalidUnitName("a/b").description.contains("NAME.TYPE"))
        #expect(
            SystemdError.jobFailed(unit: "a.service", job: "/j/1", result: "failed").description.contains("'failed'"))
    }

    @Test func matchRulesAreWellFormed() {
        let rule = MatchRule(
            sender: "org.freedesktop.systemd1", pathNamespace: BusPath.unitPrefix,
            interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged")
        #expect(
            rule.description
                == "type='signal',sender='org.freedesktop.systemd1',path_namespace='/org/freedesktop/systemd1/unit',"
                + "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'")
    }

    @Test func bridgeAddressRunsStdioBridgeInTheMachine() {
        guard case .custom(let address, let busClient) = BusAddress.machinePrivateBridge(leaderPID: 42) else {
            Issue.record("not a custom address")
            return
        }
        #expect(!busClient)
        #expect(address.hasPrefix("unixexec:path=/usr/bin/nsenter,argv0=nsenter,argv1=-t,argv2=42,"))
        #expect(address.hasSuffix("argv7=--bus-path=unix:path=/run/systemd/private"))
        #expect(
            BusAddress.machineSystemBus(rootPath: "/proc/42/root")
                == .custom(address: "unix:path=/proc/42/root/run/dbus/system_bus_socket", busClient: true))
    }

    @Test func connectingToAMissingSocketFailsClearly() async {
        do {
            _ = try await SystemdBus.connect(.systemdPrivate(socketPath: "/nonexistent/fleet-test/private"))
            Issue.record("connected to a missing socket")
        } catch let error as SystemdError {
            guard case .connectionFailed(_, let code) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(code == -2)
        } catch {
            Issue.record("untyped error \(error)")
        }
    }
}
