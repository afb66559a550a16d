import Testing

@testable import KV

#if canImport(Glibc)
import Glibc
#endif

/// Reserved segment space (``WAL/Options/preallocationChunk``): syncs inside the reservation do not
/// change the file size, replay takes the zero tail for free space, and torn writes are still found.
@Suite struct WALPreallocationTests {
    let options = WAL.Options(segmentSize: 64 << 20, preallocationChunk: 64 << 10)

    @Test func appendsInsideTheReservationKeepTheFileSize() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (wal, _) = try WAL.open(directory: dir.path, options: options)
        try wal.appendAndSync([.entry(entry(1))])
        let path = wal.segmentFiles[0]
        #expect(TestFiles.size(path) == 64 << 10, "the first sync reserves one chunk")
        for index in UInt64(2)...100 { try wal.appendAndSync([.entry(entry(index))]) }
        #expect(TestFiles.size(path) == 64 << 10, "100 small syncs stay inside it: no size change to flush")
        // Past the chunk: the reservation grows by whole chunks.
        for index in UInt64(101)...3000 { try wal.appendAndSync([.entry(entry(index, size: 40))]) }
        let size = TestFiles.size(path)
        #expect(size % (64 << 10) == 0 && size > 64 << 10)
        try wal.close()
    }

    @Test func reopenTreatsTheZeroTailAsFreeAndAppendsAfterTheData() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let entries = (UInt64(1)...40).map { entry($0) }
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            for e in entries { try wal.appendAndSync([.entry(e)]) }
            try wal.close()
        }
        let dataEnd = entries.reduce(0) { $0 + frameSize(.entry($1)) }
        do {
            let (wal, replay) = try WAL.open(directory: dir.path, options: options)
            #expect(replay.entries == entries)
            #expect(replay.tornTail == nil, "reserved zeros are not a torn write")
            #expect(TestFiles.size(wal.segmentFiles[0]) == 64 << 10, "the reservation is kept")
            try wal.appendAndSync([.entry(entry(41))])
            try wal.close()
        }
        let records = try WAL.records(in: dir.path, options: options)
        #expect(records.map(\.offset).last == dataEnd, "the next record follows the data, not the reservation")
        let (_, replay) = try WAL.open(directory: dir.path, options: options)
        #expect(replay.entries == entries + [entry(41)])
    }

    @Test func tornWriteInsideTheReservationIsStillTorn() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var offsets: [Int] = []
        var path = ""
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            var offset = 0
            for index in UInt64(1)...3 {
                offsets.append(offset)
                try wal.appendAndSync([.entry(entry(index, size: 2000))])
                offset += frameSize(.entry(entry(index, size: 2000)))
            }
            path = wal.segmentFiles[0]
            try wal.close()
        }
        // A sector of the last record never reached the disk; the reserved zeros follow it.
        var bytes = TestFiles.read(path)
        let sector = (offsets[2] / 512 + 2) * 512
        for i in sector..<(sector + 512) { bytes[i] = 0 }
        TestFiles.write(path, bytes)
        let (wal, replay) = try WAL.open(directory: dir.path, options: options)
        #expect(replay.entries.map(\.index) == [1, 2])
        #expect(replay.tornTail?.offset == offsets[2])
        #expect(TestFiles.size(path) == offsets[2], "the torn record and the reservation after it are cut")
        try wal.appendAndSync([.entry(entry(3))])
        try wal.close()
    }

    @Test func rotatedSegmentsLoseTheirReservation() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let small = WAL.Options(segmentSize: 8 << 10, preallocationChunk: 64 << 10)
        do {
            let (wal, _) = try WAL.open(directory: dir.path, options: small)
            for index in UInt64(1)...400 { try wal.appendAndSync([.entry(entry(index, size: 40))]) }
            let files = wal.segmentFiles
            #expect(files.count > 2)
            for file in files.dropLast() {
                #expect(TestFiles.size(file) < 64 << 10, "\(file) was cut back to its records")
            }
            try wal.close()
        }
        // Without the option the older segments are exact, so even a reader that does not know about
        // reservations reads them; only the last one has a zero tail, which such a reader calls torn.
        let records = try WAL.records(in: dir.path)
        let indexes: [UInt64] = records.compactMap { if case .entry(let e) = $0.record { e.index } else { nil } }
        #expect(indexes == Array(UInt64(1)...400))
        let (_, replay) = try WAL.open(directory: dir.path, options: small)
        #expect(replay.entries.map(\.index) == Array(UInt64(1)...400))
        #expect(replay.tornTail == nil)
    }
}
