import Testing

@testable import Fleet

@Suite struct BusPathTests {
    @Test(arguments: [
        ("fleet.service", "fleet_2eservice"),
        ("hello@1.service", "hello_401_2eservice"),
        ("1abc.service", "_31abc_2eservice"),
        ("a1.service", "a1_2eservice"),
        ("dev-sda1.device", "dev_2dsda1_2edevice"),
        ("x_y.service", "x_5fy_2eservice"),
        ("", "_"),
        ("é", "_c3_a9"),
    ])
    func escapesLikeSdBusPathEncode(name: String, escaped: String) {
        #expect(BusPath.escape(name) == escaped)
        #expect(BusPath.unescape(escaped) == name)
    }

    @Test func unitPathsRoundTrip() {
        let path = BusPath.unitPath("hello@1.service")
        #expect(path == "/org/freedesktop/systemd1/unit/hello_401_2eservice")
        #expect(BusPath.unitName(fromPath: path) == "hello@1.service")
    }

    @Test(arguments: [
        "/org/freedesktop/systemd1", "/org/freedesktop/systemd1/unit/", "/org/freedesktop/systemd1/unit/a/b",
        "/org/freedesktop/systemd1/job/12", "/org/freedesktop/systemd1/unit/bad_zz",
        "/org/freedesktop/systemd1/unit/trunc_2",
    ])
    func rejectsNonUnitPaths(path: String) {
        #expect(BusPath.unitName(fromPath: path) == nil)
    }
}
