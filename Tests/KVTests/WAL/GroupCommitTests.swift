import Testing

@testable import KV

@Suite struct GroupCommitTests {
    @Test func concurrentWritersShareSyncsAndEveryAcknowledgedRecordSurvives() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let writers = 64
        let perWriter = 40
        let (wal, _) = try WAL.open(directory: dir.path, options: WAL.Options(segmentSize: 16 << 10))
        let committer = GroupCommitter(wal: wal)
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var acked: [String] = []
                    for sequence in 0..<perWriter {
                        let label = "w\(writer)-\(sequence)"
                        try await committer.append(.metadata(Array(label.utf8)))
                        acked.append(label)
                    }
                    return acked
                }
            }
            var all: [String] = []
            for try await acked in group { all += acked }
            return all
        }
        committer.shutdown()
        let stats = wal.statistics
        #expect(stats.records == writers * perWriter)
        #expect(stats.syncs < stats.records, "syncs are shared: \(stats.syncs) for \(stats.records) records")
        try wal.close()

        let (_, replay) = try WAL.open(directory: dir.path, options: WAL.Options(segmentSize: 16 << 10))
        #expect(replay.tornTail == nil)
        let stored = try WAL.records(in: dir.path).compactMap { stored -> String? in
            if case .metadata(let bytes) = stored.record { return String(decoding: bytes, as: UTF8.self) }
            return nil
        }
        #expect(Set(stored).isSuperset(of: acknowledged))
        #expect(acknowledged.count == writers * perWriter)
        // Records of one writer stay in submission order.
        let writer7 = stored.filter { $0.hasPrefix("w7-") }
        var seen = Set<String>()
        let firstOccurrences = writer7.filter { seen.insert($0).inserted }
        #expect(firstOccurrences == (0..<perWriter).map { "w7-\($0)" })
    }

    @Test func appendAfterShutdownFails() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (wal, _) = try WAL.open(directory: dir.path)
        let committer = GroupCommitter(wal: wal)
        try await committer.append(.entry(entry(1)))
        committer.shutdown()
        committer.shutdown()
        await #expect(throws: WALError.closed) { try await committer.append(.entry(entry(2))) }
        try wal.close()
    }

    @Test func closedWALFailsEveryWaiter() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (wal, _) = try WAL.open(directory: dir.path)
        let committer = GroupCommitter(wal: wal)
        try wal.close()
        await #expect(throws: WALError.closed) { try await committer.append(.entry(entry(1))) }
        committer.shutdown()
    }
}
