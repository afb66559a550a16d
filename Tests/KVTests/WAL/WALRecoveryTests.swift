import Testing

@testable import KV

/// Torn tails are truncated and reported; every other kind of damage stops replay with file and offset.
@Suite struct WALRecoveryTests {
    /// Writes `count` entries as separate syncs; returns the segment path and each record's offset.
    func writeEntries(_ dir: TemporaryDirectory, count: UInt64, size: Int = 20) throws -> (String, [Int]) {
        let (wal, _) = try WAL.open(directory: dir.path)
        var offsets: [Int] = []
        var offset = 0
        for index in 1...count {
            offsets.append(offset)
            try wal.appendAndSync([.entry(entry(index, size: size))])
            offset += frameSize(.entry(entry(index, size: size)))
        }
        let path = wal.segmentFiles[0]
        try wal.close()
        return (path, offsets)
    }

    @Test func tornTailAtEveryOffsetOfTheLastRecord() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, offsets) = try writeEntries(dir, count: 5, size: 40)
        let original = TestFiles.read(path)
        let lastStart = offsets[4]
        for cut in lastStart..<original.count {
            TestFiles.write(path, Array(original[0..<cut]))
            let (wal, replay) = try WAL.open(directory: dir.path)
            #expect(replay.entries.map(\.index) == [1, 2, 3, 4], "cut at \(cut)")
            if cut == lastStart {
                #expect(replay.tornTail == nil, "cut at a record boundary is a clean end")
            } else {
                #expect(replay.tornTail?.file == path && replay.tornTail?.offset == lastStart, "cut at \(cut)")
                #expect(replay.tornTail?.droppedBytes == cut - lastStart)
            }
            #expect(TestFiles.size(path) == lastStart, "truncated to the last good record")
            // The log is writable again right after the truncation.
            try wal.appendAndSync([.entry(entry(5, size: 40))])
            try wal.close()
            #expect(TestFiles.read(path) == original)
        }
    }

    @Test func zeroFilledTailIsTorn() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, _) = try writeEntries(dir, count: 3)
        let good = TestFiles.read(path)
        // The file size reached the disk but the data did not: zeros.
        TestFiles.write(path, good + [UInt8](repeating: 0, count: 4096))
        let (_, replay) = try WAL.open(directory: dir.path)
        #expect(replay.entries.count == 3)
        #expect(replay.tornTail?.offset == good.count)
        #expect(replay.tornTail?.droppedBytes == 4096)
        #expect(TestFiles.size(path) == good.count)
    }

    @Test func lastRecordWithUnwrittenSectorIsTorn() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, offsets) = try writeEntries(dir, count: 3, size: 2000)
        var bytes = TestFiles.read(path)
        // Zero one whole sector inside the last record: a page of the final write never reached disk.
        let sector = (offsets[2] / 512 + 2) * 512
        for i in sector..<(sector + 512) { bytes[i] = 0 }
        TestFiles.write(path, bytes)
        let (_, replay) = try WAL.open(directory: dir.path)
        #expect(replay.entries.count == 2)
        #expect(replay.tornTail?.offset == offsets[2])
    }

    @Test func flippedByteInEarlierRecordIsCorruption() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, offsets) = try writeEntries(dir, count: 6)
        let original = TestFiles.read(path)
        // Every byte of record 3 (header and payload): damage there is never mistaken for a torn tail.
        for offset in offsets[2]..<offsets[3] {
            TestFiles.write(path, original)
            TestFiles.flipByte(path, at: offset)
            #expect("flip at \(offset)") {
                _ = try WAL.open(directory: dir.path)
            } throws: { error in
                guard case WALError.corruptRecord(let file, let at, _) = error else { return false }
                return file == path && at == offsets[2]
            }
            #expect(
                TestFiles.read(path)
                    == {
                        var b = original
                        b[offset] ^= 0x5A
                        return b
                    }(), "nothing truncated")
        }
        let message = WALError.corruptRecord(file: path, offset: offsets[2], reason: "checksum mismatch").description
        #expect(message.contains(path) && message.contains("offset \(offsets[2])"))
    }

    @Test func flippedByteInLastCompleteRecordIsCorruption() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, offsets) = try writeEntries(dir, count: 3)
        TestFiles.flipByte(path, at: offsets[2] + 20)
        #expect(throws: WALError.self) { _ = try WAL.open(directory: dir.path) }
    }

    @Test func damagedLengthFollowedByValidRecordsIsCorruption() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, offsets) = try writeEntries(dir, count: 4)
        var bytes = TestFiles.read(path)
        bytes[offsets[1] + 2] = 0x7F  // length now points far past the end of the file
        TestFiles.write(path, bytes)
        #expect {
            _ = try WAL.open(directory: dir.path)
        } throws: { error in
            guard case WALError.corruptRecord(_, let at, _) = error else { return false }
            return at == offsets[1]
        }
    }

    @Test func damageInAnEarlierSegmentIsCorruptionEvenAtItsEnd() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = WAL.Options(segmentSize: 600)
        var first = ""
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            for index in UInt64(1)...60 { try wal.appendAndSync([.entry(entry(index))]) }
            first = wal.segmentFiles[0]
            try wal.close()
        }
        let size = TestFiles.size(first)
        TestFiles.truncate(first, to: size - 3)
        #expect {
            _ = try WAL.open(directory: dir.path, options: options)
        } throws: { error in
            guard case WALError.corruptRecord(let file, _, _) = error else { return false }
            return file == first
        }
    }

    /// A lost sector in a record followed by valid records is corruption: those records may have been
    /// acknowledged. The operator override truncates anyway and reports what it removed.
    @Test func zeroSectorFollowedByValidRecordsIsCorruptionUnlessRepaired() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, offsets) = try writeEntries(dir, count: 4, size: 1500)
        var bytes = TestFiles.read(path)
        let sector = (offsets[1] / 512 + 1) * 512
        for i in sector..<(sector + 512) { bytes[i] = 0 }
        TestFiles.write(path, bytes)
        #expect {
            _ = try WAL.open(directory: dir.path)
        } throws: { error in
            guard case WALError.corruptRecord(let file, let at, _) = error else { return false }
            return file == path && at == offsets[1]
        }
        #expect(TestFiles.read(path) == bytes, "nothing changed on disk")

        var options = WAL.Options()
        options.repairTornTail = true
        let (wal, replay) = try WAL.open(directory: dir.path, options: options)
        #expect(replay.entries.map(\.index) == [1])
        #expect(replay.tornTail?.offset == offsets[1])
        #expect(replay.tornTail?.reason.contains("repairTornTail") == true)
        try wal.close()
    }
}
