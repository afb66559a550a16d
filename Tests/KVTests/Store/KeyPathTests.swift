import Testing
@testable import KV

/// Splitting canonical store paths (done on UTF-8 bytes for speed) must still cut at `/` only,
/// whatever the names hold.
@Suite struct KeyPathTests {
    @Test func componentsOfCanonicalAndUncleanPaths() {
        #expect(KeyPath.components("/") == [])
        #expect(KeyPath.components("/1") == ["1"])
        #expect(KeyPath.components("/1/a/b") == ["1", "a", "b"])
        #expect(KeyPath.components("//a///b/") == ["a", "b"], "empty segments are skipped")
        #expect(KeyPath.components("/é/☃/e\u{301}/😀x") == ["é", "☃", "e\u{301}", "😀x"])
    }

    @Test func splitIntoParentAndName() {
        #expect(KeyPath.split("/a") == ("/", "a"))
        #expect(KeyPath.split("/1/dir/key") == ("/1/dir", "key"))
        #expect(KeyPath.split("/ü/e\u{301}") == ("/ü", "e\u{301}"))
        #expect(KeyPath.split("plain") == ("/", "plain"))
    }
}
