import Testing

@testable import KV

/// The whole storage cycle as a member drives it: log entries, snapshot every N entries, marker,
/// release of the log behind the snapshot, pruning, restart.
@Suite struct StorageLifecycleTests {
    @Test func snapshotReleaseAndRestartRestoreTheState() throws {
        let dir = TemporaryDirectory("member")
        defer { dir.remove() }
        let walDirectory = dir.file("wal")
        let snapDirectory = dir.file("snap")
        let options = WAL.Options(segmentSize: 4096)
        let policy = SnapshotPolicy(count: 100)
        var state: [UInt64: [UInt8]] = [:]  // the "store": index -> data, to compare after restart

        do {
            let (wal, _) = try WAL.open(directory: walDirectory, options: options)
            let snapshots = try SnapshotStore(directory: snapDirectory)
            try wal.appendAndSync([.metadata(Array("cluster-1/member-a".utf8))])
            var lastSnapshot: UInt64 = 0
            for index in UInt64(1)...450 {
                let e = entry(index, term: 1 + index / 200, size: 64)
                try wal.appendAndSync([
                    .entry(e), .hardState(WALHardState(term: e.term, vote: 1, commit: index)),
                ])
                state[index] = e.data
                if policy.shouldSnapshot(appliedIndex: index, lastSnapshotIndex: lastSnapshot) {
                    let data = (1...index).flatMap { state[$0]!.prefix(1) }
                    try snapshots.save(
                        SnapshotFile(metadata: SnapshotFileMetadata(index: index, term: e.term, membership: [1]), data: data))
                    try wal.appendAndSync([.snapshotMarker(WALSnapshotMarker(index: index, term: e.term))])
                    // Release only up to the older kept snapshot, so falling back to it stays possible.
                    if let older = try snapshots.list().dropFirst().first?.metadata.index {
                        try wal.releaseBefore(older)
                    }
                    try snapshots.prune(keep: 2)
                    lastSnapshot = index
                }
            }
            #expect(try snapshots.list().map(\.metadata.index) == [400, 300])
            #expect(!wal.segmentFiles.first!.hasSuffix("0000000000000001-0000000000000001.wal"))
            try wal.close()
        }

        // Restart: newest snapshot plus the entries after it give back every entry.
        let snapshots = try SnapshotStore(directory: snapDirectory)
        let snapshot = try #require(try snapshots.loadNewest())
        let (wal, replay) = try WAL.open(directory: walDirectory, options: options)
        defer { try? wal.close() }
        #expect(snapshot.metadata.index == 400)
        #expect(snapshot.data == (UInt64(1)...400).flatMap { state[$0]!.prefix(1) })
        #expect(replay.metadata == Array("cluster-1/member-a".utf8))
        #expect(replay.snapshot == WALSnapshotMarker(index: 400, term: 3))
        #expect(replay.hardState == WALHardState(term: 3, vote: 1, commit: 450))
        #expect(replay.entries.map(\.index) == Array(401...450))
        #expect(replay.entries.allSatisfy { state[$0.index] == $0.data })
    }
}
