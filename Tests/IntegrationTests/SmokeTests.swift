import Testing
@testable import Fleet

@Test func integrationTargetBuilds() {
    #expect(!FleetModule.version.isEmpty)
}
