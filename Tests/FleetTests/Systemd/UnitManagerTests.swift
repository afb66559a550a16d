import Testing

@testable import Fleet

@Suite struct UnitManagerTests {
    @Test(arguments: [
        "hello.service", "a@1.service", "x.socket", "t.timer", "m.mount", "p.path", "d.device", "a.automount",
    ])
    func acceptsSchedulableUnitNames(name: String) throws {
        try SystemdUnitManager.validate(name)
    }

    @Test(arguments: ["hello", ".service", "a/b.service", "../x.service", "x.target", "x.slice", "", "x.service/"])
    func rejectsOtherNames(name: String) {
        #expect(throws: SystemdError.invalidUnitName(name)) { try SystemdUnitManager.validate(name) }
    }

    @Test func detectsInstallSections() {
        #expect(
            SystemdUnitManager.hasInstallSection(
                "[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"))
        #expect(SystemdUnitManager.hasInstallSection("[Install]  \n"))
        #expect(!SystemdUnitManager.hasInstallSection("[Service]\nExecStart=/bin/echo [Install]\n"))
    }
}
