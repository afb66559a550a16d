import Testing
@testable import Fleet

@Test func versionIsSet() {
    #expect(!FleetModule.version.isEmpty)
}
