import Testing

@testable import KV

@Suite struct SnapshotStoreTests {
    func snapshot(index: UInt64, term: UInt64, size: Int = 1000) -> SnapshotFile {
        SnapshotFile(
            metadata: SnapshotFileMetadata(index: index, term: term, membership: Array("m1,m2,m3".utf8)),
            data: (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ Int(index)) })
    }

    @Test func saveLoadAndPrune() throws {
        let dir = TemporaryDirectory("snap")
        defer { dir.remove() }
        let store = try SnapshotStore(directory: dir.path)
        #expect(try store.loadNewest() == nil)
        let path = try store.save(snapshot(index: 100, term: 2))
        #expect(path == dir.file("0000000000000002-0000000000000064.snap"))
        try store.save(snapshot(index: 200, term: 2))
        try store.save(snapshot(index: 300, term: 3, size: 0))
        #expect(try store.loadNewest() == snapshot(index: 300, term: 3, size: 0))
        #expect(try store.list().map(\.metadata.index) == [300, 200, 100])
        let removed = try store.prune(keep: 2)
        #expect(removed == [path])
        #expect(try store.list().map(\.metadata.index) == [300, 200])
        // No temporary files remain.
        #expect(try FileIO.list(dir.path).allSatisfy { $0.hasSuffix(".snap") })
    }

    @Test func corruptNewestIsReportedNotSkipped() throws {
        let dir = TemporaryDirectory("snap")
        defer { dir.remove() }
        let store = try SnapshotStore(directory: dir.path)
        try store.save(snapshot(index: 10, term: 1))
        let newest = try store.save(snapshot(index: 20, term: 1))
        TestFiles.flipByte(newest, at: 500)
        #expect {
            _ = try store.loadNewest()
        } throws: { error in
            guard case WALError.corruptSnapshot(let file, _, let reason) = error else { return false }
            return file == newest && reason.contains("checksum")
        }
        // Falling back is explicit, and the skipped file is reported.
        let (fallback, skipped) = try store.loadNewestValid(where: { _ in true })
        #expect(fallback == snapshot(index: 10, term: 1))
        #expect(skipped.count == 1)
        let (none, _) = try store.loadNewestValid(where: { $0.index > 15 })
        #expect(none == nil)
    }

    @Test func renamedSnapshotIsCorrupt() throws {
        let dir = TemporaryDirectory("snap")
        defer { dir.remove() }
        let store = try SnapshotStore(directory: dir.path)
        let path = try store.save(snapshot(index: 5, term: 1))
        let renamed = dir.file("0000000000000001-0000000000000009.snap")
        try FileIO.rename(path, renamed)
        #expect(throws: WALError.self) { _ = try store.loadNewest() }
    }

    @Test func truncatedSnapshotIsCorrupt() throws {
        let dir = TemporaryDirectory("snap")
        defer { dir.remove() }
        let store = try SnapshotStore(directory: dir.path)
        let path = try store.save(snapshot(index: 5, term: 1))
        for length in [0, 10, 40, TestFiles.size(path) - 1] {
            TestFiles.truncate(path, to: length)
            #expect(throws: WALError.self) { _ = try store.load(path: path) }
        }
    }

    @Test func leftoverTemporaryFileIsRemovedOnOpen() throws {
        let dir = TemporaryDirectory("snap")
        defer { dir.remove() }
        TestFiles.write(dir.file("0000000000000001-0000000000000009.snap.tmp"), [1, 2, 3])
        let store = try SnapshotStore(directory: dir.path)
        #expect(try FileIO.list(dir.path).isEmpty)
        #expect(try store.loadNewest() == nil)
    }

    @Test func policyCountsAppliedEntries() {
        let policy = SnapshotPolicy(count: 100)
        #expect(!policy.shouldSnapshot(appliedIndex: 99, lastSnapshotIndex: 0))
        #expect(policy.shouldSnapshot(appliedIndex: 100, lastSnapshotIndex: 0))
        #expect(!policy.shouldSnapshot(appliedIndex: 150, lastSnapshotIndex: 100))
    }
}
