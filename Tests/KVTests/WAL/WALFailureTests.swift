import Synchronization
import Testing

@testable import KV

#if canImport(Glibc)
import Glibc
#endif

/// After a failed fsync nothing more may be acknowledged: the page cache can no longer be trusted.
@Suite struct WALFailureTests {
    final class Switch: Sendable {
        let failing = Atomic<Bool>(false)
    }

    @Test func failedSyncPoisonsTheLog() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let fault = Switch()
        var options = WAL.Options()
        options.injectedSyncFailure = { fault.failing.load(ordering: .relaxed) ? EIO : nil }
        let (wal, _) = try WAL.open(directory: dir.path, options: options)
        let committer = GroupCommitter(wal: wal)
        try wal.appendAndSync([.entry(entry(1))])
        try await committer.append(.entry(entry(2)))

        fault.failing.store(true, ordering: .relaxed)
        #expect {
            try wal.appendAndSync([.entry(entry(3))])
        } throws: { error in
            guard case WALError.io("fdatasync", let path, EIO) = error else { return false }
            return path.hasSuffix(".wal")
        }
        fault.failing.store(false, ordering: .relaxed)
        // Even though syncing works again, nothing further is accepted.
        #expect {
            try wal.appendAndSync([.entry(entry(4))])
        } throws: { error in
            guard case WALError.poisoned(let cause) = error else { return false }
            return cause.contains("fdatasync")
        }
        await #expect(throws: WALError.self) { try await committer.append(.entry(entry(4))) }
        #expect(throws: WALError.self) { try wal.append([.entry(entry(4))]) }
        committer.shutdown()
        try wal.close()

        // Replay still has every acknowledged entry.
        let (_, replay) = try WAL.open(directory: dir.path)
        #expect(replay.entries.prefix(2).map(\.index) == [1, 2])
    }

    @Test func newDirectoryIsCreated() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (wal, _) = try WAL.open(directory: dir.file("member"))
        #expect(wal.segmentFiles.count == 1)
        try wal.close()
    }
}
