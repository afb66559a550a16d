import Testing

@testable import KV

#if canImport(Glibc)
import Glibc
#endif

@Suite struct WALTests {
    @Test func roundTripThroughReopen() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let entries = (1...50).map { entry($0) }
        do {
            let (wal, replay) = try WAL.open(directory: dir.path)
            #expect(
                replay.entries.isEmpty && replay.metadata == nil && replay.hardState == nil && replay.tornTail == nil)
            try wal.append([.metadata([1, 2, 3])])
            try wal.append(entries.map { .entry($0) })
            try wal.append([.hardState(WALHardState(term: 1, vote: 2, commit: 40))])
            try wal.sync()
            #expect(wal.statistics.syncs == 1)
            #expect(wal.statistics.records == 52)
            try wal.close()
        }
        let (wal, replay) = try WAL.open(directory: dir.path)
        #expect(replay.metadata == [1, 2, 3])
        #expect(replay.hardState == WALHardState(term: 1, vote: 2, commit: 40))
        #expect(replay.entries == entries)
        #expect(replay.snapshot == nil)
        #expect(replay.tornTail == nil)

        // Appending continues after the replayed data.
        try wal.appendAndSync([.entry(entry(51)), .hardState(WALHardState(term: 2, vote: 0, commit: 51))])
        try wal.close()
        let (_, again) = try WAL.open(directory: dir.path)
        #expect(again.entries == entries + [entry(51)])
        #expect(again.hardState?.term == 2)
    }

    @Test func unsyncedRecordsAreNotWritten() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (wal, _) = try WAL.open(directory: dir.path)
        try wal.append([.entry(entry(1))])
        #expect(TestFiles.size(wal.segmentFiles[0]) == 0)
        try wal.sync()
        #expect(TestFiles.size(wal.segmentFiles[0]) == frameSize(.entry(entry(1))))
        try wal.sync()  // nothing pending: no extra sync
        #expect(wal.statistics.syncs == 1)
    }

    @Test func overwriteDropsLaterEntries() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let (wal, _) = try WAL.open(directory: dir.path)
            try wal.appendAndSync((1...10).map { .entry(entry($0, term: 1)) })
            // A new leader truncates the uncommitted tail from index 6.
            try wal.appendAndSync([.entry(entry(6, term: 2)), .entry(entry(7, term: 2))])
            try wal.close()
        }
        let (_, replay) = try WAL.open(directory: dir.path)
        #expect(replay.entries.map(\.index) == Array(1...7))
        #expect(replay.entries.map(\.term) == [1, 1, 1, 1, 1, 2, 2])
    }

    @Test func overwriteAtFirstIndexReplacesEverything() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let (wal, _) = try WAL.open(directory: dir.path)
            try wal.appendAndSync((1...5).map { .entry(entry($0, term: 1)) } + [.entry(entry(1, term: 3))])
            try wal.close()
        }
        let (_, replay) = try WAL.open(directory: dir.path)
        #expect(replay.entries == [entry(1, term: 3)])
    }

    @Test func entryGapIsAnError() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let (wal, _) = try WAL.open(directory: dir.path)
            try wal.appendAndSync([.entry(entry(1)), .entry(entry(2)), .entry(entry(5))])
            try wal.close()
        }
        #expect {
            _ = try WAL.open(directory: dir.path)
        } throws: { error in
            guard case WALError.entryGap(let file, let offset, 3, 5) = error else { return false }
            return file.hasSuffix(".wal") && offset == 2 * frameSize(.entry(entry(1)))
        }
    }

    @Test func snapshotMarkerHidesCoveredEntries() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let (wal, _) = try WAL.open(directory: dir.path)
            try wal.appendAndSync(
                (1...10).map { .entry(entry($0)) } + [.snapshotMarker(WALSnapshotMarker(index: 6, term: 1))])
            try wal.appendAndSync([.entry(entry(11))])
            try wal.close()
        }
        let (_, replay) = try WAL.open(directory: dir.path)
        #expect(replay.snapshot == WALSnapshotMarker(index: 6, term: 1))
        #expect(replay.entries.map(\.index) == [7, 8, 9, 10, 11])
    }

    @Test func rotationAndReplayAcrossSegments() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = WAL.Options(segmentSize: 1024)
        let entries = (1...200).map { entry($0, size: 30) }
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            try wal.appendAndSync([.metadata([9, 9]), .hardState(WALHardState(term: 1, vote: 1, commit: 0))])
            for chunk in stride(from: 0, to: entries.count, by: 10) {
                try wal.appendAndSync(entries[chunk..<(chunk + 10)].map { .entry($0) })
            }
            #expect(wal.segmentFiles.count > 5)
            try wal.close()
        }
        let names = try FileIO.list(dir.path).filter { $0.hasSuffix(".wal") }.sorted()
        #expect(names.first == "0000000000000001-0000000000000001.wal")
        // Each segment is named one past the last entry written before it: 10-entry batches.
        #expect(
            names.dropFirst().allSatisfy { name in
                let first = WALSegment.parse(name)!.firstIndex
                return first % 10 == 1
            })
        let (wal, replay) = try WAL.open(directory: dir.path, options: options)
        #expect(replay.entries == entries)
        #expect(replay.metadata == [9, 9])
        #expect(replay.hardState == WALHardState(term: 1, vote: 1, commit: 0))
        // Every segment but the first opens with the metadata and hard state.
        let records = try WAL.records(in: dir.path)
        for file in wal.segmentFiles.dropFirst() {
            let head = records.filter { $0.file == file }.prefix(2).map(\.record)
            #expect(head == [.metadata([9, 9]), .hardState(WALHardState(term: 1, vote: 1, commit: 0))])
        }
    }

    @Test func releaseBeforeRemovesCoveredSegments() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = WAL.Options(segmentSize: 2048)
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            try wal.appendAndSync([.metadata([7])])
            for index in stride(from: UInt64(1), through: 300, by: 5) {
                try wal.appendAndSync((index..<(index + 5)).map { .entry(entry($0, size: 40)) })
            }
            try wal.appendAndSync([.hardState(WALHardState(term: 1, vote: 3, commit: 300))])
            let before = wal.segmentFiles
            #expect(before.count > 10)
            // Nothing is covered by a snapshot at index 0.
            #expect(try wal.releaseBefore(0).isEmpty)
            try wal.appendAndSync([.snapshotMarker(WALSnapshotMarker(index: 200, term: 1))])
            let removed = try wal.releaseBefore(200)
            #expect(!removed.isEmpty)
            #expect(removed == Array(before.prefix(removed.count)))
            // The first remaining segment's successor starts above 201, and the last one is kept.
            let remaining = wal.segmentFiles
            #expect(WALSegment.parse(String(remaining[1].split(separator: "/").last!))!.firstIndex > 201)
            #expect(try wal.releaseBefore(UInt64.max - 1).count == remaining.count - 1)
            #expect(wal.segmentFiles == [remaining.last!])
            try wal.close()
        }
        let (_, replay) = try WAL.open(directory: dir.path, options: options)
        #expect(replay.metadata == [7])
        #expect(replay.snapshot == WALSnapshotMarker(index: 200, term: 1))
        #expect(replay.hardState == WALHardState(term: 1, vote: 3, commit: 300))
    }

    @Test func releaseKeepsEverythingAboveTheSnapshot() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = WAL.Options(segmentSize: 1500)
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            for index in UInt64(1)...300 { try wal.appendAndSync([.entry(entry(index, size: 40))]) }
            try wal.appendAndSync([.snapshotMarker(WALSnapshotMarker(index: 150, term: 1))])
            #expect(!(try wal.releaseBefore(150)).isEmpty)
            try wal.close()
        }
        let (_, replay) = try WAL.open(directory: dir.path, options: options)
        #expect(replay.entries.map(\.index) == Array(151...300))
    }

    @Test func missingSegmentIsReported() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = WAL.Options(segmentSize: 512)
        var middle = ""
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            for index in UInt64(1)...100 { try wal.appendAndSync([.entry(entry(index, size: 40))]) }
            middle = wal.segmentFiles[2]
            try wal.close()
        }
        TestFiles.truncate(middle, to: 0)
        _ = unlink(middle)
        #expect(throws: WALError.self) { _ = try WAL.open(directory: dir.path, options: options) }
    }

    @Test func secondOpenerIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (wal, _) = try WAL.open(directory: dir.path)
        #expect(throws: WALError.directoryLocked(directory: dir.path)) {
            _ = try WAL.open(directory: dir.path)
        }
        #expect(throws: WALError.directoryLocked(directory: dir.path)) {
            _ = try DataDirectoryLock.acquire(dir.path)
        }
        let message = WALError.directoryLocked(directory: dir.path).description
        #expect(message.contains(dir.path) && message.contains("another member"))
        try wal.close()
        #expect(throws: WALError.closed) { try wal.appendAndSync([.metadata([])]) }
        let (reopened, _) = try WAL.open(directory: dir.path)
        try reopened.close()
    }

    @Test func oversizedRecordIsRejected() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (wal, _) = try WAL.open(directory: dir.path, options: WAL.Options(maxRecordSize: 100))
        #expect(throws: WALError.recordTooLarge(size: 117, limit: 100)) {
            try wal.append([.entry(entry(1, size: 100))])
        }
    }
}

@Suite struct WALSegmentHeadTests {
    /// A crash right after a new segment was created leaves it empty; reopening must restore its head
    /// so that releasing the older segments keeps metadata and hard state.
    @Test func emptyLastSegmentGetsItsHeadBack() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = WAL.Options(segmentSize: 400)
        var last = ""
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            try wal.appendAndSync([.metadata([4, 2]), .hardState(WALHardState(term: 3, vote: 1, commit: 5))])
            for index in UInt64(1)...30 { try wal.appendAndSync([.entry(entry(index))]) }
            try wal.appendAndSync([.snapshotMarker(WALSnapshotMarker(index: 30, term: 1))])
            last = wal.segmentFiles.last!
            try wal.close()
        }
        TestFiles.truncate(last, to: 0)
        do {
            let (wal, replay) = try WAL.open(directory: dir.path, options: options)
            #expect(replay.metadata == [4, 2])
            #expect(!(try wal.releaseBefore(30)).isEmpty)
            #expect(wal.segmentFiles == [last])
            try wal.close()
        }
        let (_, replay) = try WAL.open(directory: dir.path, options: options)
        #expect(replay.metadata == [4, 2])
        #expect(replay.hardState == WALHardState(term: 3, vote: 1, commit: 5))
    }
}
