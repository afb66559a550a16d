import Testing
@testable import KV

@Test func versionIsSet() {
    #expect(!KVModule.version.isEmpty)
}
