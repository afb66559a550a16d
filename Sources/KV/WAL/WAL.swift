import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The write-ahead log of one KV member: a directory of append-only segment files of checksummed
/// records.
///
/// Durability contract: a record is durable once ``sync()`` (or a ``GroupCommitter`` append) has
/// returned; until then it may be lost in a crash. Each sync is one `pwrite` of everything appended
/// since the last one plus one `fdatasync`. A failed write or sync poisons the log
/// (``WALError/poisoned(cause:)``): after a failed fsync the kernel may have dropped dirty pages, so
/// retrying could acknowledge data that is not on disk. Restart and replay instead.
///
/// Open with ``open(directory:options:)``, which locks the directory, replays the segments and returns
/// what they hold. All methods are thread-safe; writes are serialized by an internal lock.
///
/// How a member drives it:
///
///     let (wal, replay) = try WAL.open(directory: dataDir + "/wal")
///     // fresh log: try wal.appendAndSync([.metadata(clusterAndMemberID)])
///     // Raft loop, per Ready: append entries + hard state, one sync, then send messages
///     try wal.append(entries.map { .entry($0) } + [.hardState(hs)])
///     try wal.sync()
///     // every SnapshotPolicy.count applied entries: SnapshotStore.save, then
///     try wal.appendAndSync([.snapshotMarker(WALSnapshotMarker(index: i, term: t))])
///     try wal.releaseBefore(oldestKeptSnapshotIndex)
///
/// Concurrent producers that each need their own acknowledgement use a ``GroupCommitter`` instead.
public final class WAL: Sendable {
    /// Tunables.
    public struct Options: Sendable {
        /// A segment is closed and a new one started once it reaches this size (checked before each
        /// write, so one batch never spans two files). Default 64 MiB.
        public var segmentSize: Int
        /// Largest payload accepted for one record; replay also rejects larger lengths as corruption.
        public var maxRecordSize: Int

        /// Operator override for a log that replay refuses to open: truncate the last segment at its
        /// first invalid record even though it does not look like a torn write (and even if valid
        /// records follow it). The removed range is reported in ``WALReplay/tornTail``. Records after
        /// the cut are lost, so use it only after reading the error and deciding the member's copy of the
        /// data may be discarded (its peers have it). Never affects earlier segments.
        public var repairTornTail = false

        /// Fault injection for tests: called before each batch `fdatasync`; a non-nil errno makes that
        /// sync fail as if the kernel had reported it.
        var injectedSyncFailure: (@Sendable () -> Int32?)?
        /// When above zero, file space ahead of the write offset is reserved in chunks of this many
        /// bytes (`posix_fallocate`), as etcd preallocates its segments. Why: a batch that grows the
        /// file makes `fdatasync` write the inode (the new size) as well as the data — on ext4 that
        /// is three device writes per sync instead of two — so a log that stays inside reserved space
        /// syncs data only. The reserved tail reads as zeros; replay of a log opened with this option
        /// takes an all-zero tail for unused space rather than a torn write. 0 (the default) keeps every
        /// segment exactly as long as its records.
        public var preallocationChunk: Int

        public init(segmentSize: Int = 64 << 20, maxRecordSize: Int = 64 << 20, preallocationChunk: Int = 0) {
            self.segmentSize = segmentSize
            self.maxRecordSize = maxRecordSize
            self.preallocationChunk = preallocationChunk
        }
    }

    /// Counters for benchmarks and metrics.
    public struct Statistics: Sendable, Equatable {
        /// `fdatasync` calls made for batches (segment rotation syncs not counted).
        public var syncs: Int
        /// Records made durable.
        public var records: Int
        /// Bytes made durable.
        public var bytes: Int
    }

    struct State: Sendable {
        var fd: Int32
        var segments: [WALSegment]
        var offset: Int
        /// The current segment's file size: space at and above `offset` up to here is reserved zeros.
        var allocated: Int
        /// Set when the file system refused a reservation; the log then just grows its files.
        var preallocationFailed = false
        var pending = EncodedBatch()
        var written: WALTrackedState
        var failure: String?
        var closed = false
    }

    /// The directory holding the segments and the `LOCK` file.
    public let directory: String
    public let options: Options
    private let lock: DataDirectoryLock
    private let state: Mutex<State>
    private let syncCount = Atomic<Int>(0)
    private let recordCount = Atomic<Int>(0)
    private let byteCount = Atomic<Int>(0)

    private init(directory: String, options: Options, lock: DataDirectoryLock, state: State) {
        self.directory = directory
        self.options = options
        self.lock = lock
        self.state = Mutex(state)
    }

    /// Locks `directory`, replays every segment in it (creating the first one if there is none) and
    /// returns the log ready for appending after the last valid record.
    ///
    /// A torn final record of the last segment is truncated and reported in ``WALReplay/tornTail``.
    /// Any other damage throws ``WALError/corruptRecord(file:offset:reason:)`` and changes nothing on
    /// disk. Throws ``WALError/directoryLocked(directory:)`` if another member holds the directory.
    public static func open(directory: String, options: Options = Options()) throws(WALError) -> (WAL, WALReplay) {
        let lock = try DataDirectoryLock.acquire(directory)
        var segments = try WALSegment.list(in: directory)
        var replay = WALReplay(metadata: nil, hardState: nil, snapshot: nil, entries: [], tornTail: nil)
        var tracked = WALTrackedState()
        var endOffset = 0

        if segments.isEmpty {
            let first = WALSegment(sequence: 1, firstIndex: 1)
            let fd = try FileIO.open(FileIO.join(directory, first.fileName), O_WRONLY | O_CREAT | O_EXCL)
            FileIO.close(fd)
            try FileIO.fsyncDirectory(directory)
            segments = [first]
        } else {
            var folded = ReplayState(lastIndex: segments[0].firstIndex == 0 ? 0 : segments[0].firstIndex - 1)
            for (position, segment) in segments.enumerated() {
                let path = FileIO.join(directory, segment.fileName)
                let isLast = position == segments.count - 1
                let scanned = try WALScanner.scan(
                    path: path, isLast: isLast, limit: options.maxRecordSize, repair: options.repairTornTail,
                    zeroTailIsFree: options.preallocationChunk > 0
                ) {
                    (record, offset) throws(WALError) in try folded.apply(record, file: path, offset: offset)
                }
                replay.tornTail = scanned.torn
                endOffset = scanned.end
            }
            if let torn = replay.tornTail {
                let fd = try FileIO.open(torn.file, O_WRONLY)
                defer { FileIO.close(fd) }
                try FileIO.ftruncate(fd, torn.offset, path: torn.file)
                try FileIO.fsync(fd, path: torn.file)
            }
            replay.metadata = folded.metadata
            replay.hardState = folded.hardState
            replay.snapshot = folded.snapshot
            replay.entries = folded.entries
            tracked = WALTrackedState(
                metadata: folded.metadata, hardState: folded.hardState, snapshot: folded.snapshot,
                lastIndex: folded.lastIndex)
        }

        let lastPath = FileIO.join(directory, segments[segments.count - 1].fileName)
        let fd = try FileIO.open(lastPath, O_WRONLY)
        // A crash while a segment was being started can leave its head (the copy of metadata, hard state
        // and snapshot marker) missing or torn. The head is what lets older segments be released, so
        // write the replayed state again; the records are "latest wins", so repeating them is harmless.
        if segments.count > 1 && (replay.tornTail != nil || endOffset == 0) {
            var head = EncodedBatch()
            for record in tracked.headRecords() { try head.add(record, limit: Int.max) }
            do throws(WALError) {
                try FileIO.withRawBytes(head.bytes) { (raw) throws(WALError) in
                    try FileIO.pwriteAll(fd, raw, at: endOffset, path: lastPath)
                }
                try FileIO.fdatasync(fd, path: lastPath)
            } catch {
                FileIO.close(fd)
                throw error
            }
            endOffset += head.bytes.count
        }
        let allocated: Int
        do throws(WALError) { allocated = max(endOffset, try FileIO.size(fd, path: lastPath)) } catch {
            FileIO.close(fd)
            throw error
        }
        let state = State(fd: fd, segments: segments, offset: endOffset, allocated: allocated, written: tracked)
        return (WAL(directory: directory, options: options, lock: lock, state: state), replay)
    }

    /// Queues records for the next ``sync()``. Nothing is written or durable until then. Encoding
    /// happens here, so a record that is too large is rejected immediately.
    public func append(_ records: [WALRecord]) throws(WALError) {
        var batch = EncodedBatch()
        for record in records { try batch.add(record, limit: options.maxRecordSize) }
        try state.withLock { (s: inout State) throws(WALError) in
            try Self.checkUsable(s)
            s.pending.append(batch)
        }
    }

    /// Writes everything appended since the last sync with one `pwrite` and makes it durable with one
    /// `fdatasync`. Blocks the calling thread for the duration of the sync. Returns at once if nothing
    /// is pending.
    public func sync() throws(WALError) {
        try state.withLock { (s: inout State) throws(WALError) in try flush(&s) }
    }

    /// ``append(_:)`` then ``sync()`` under one lock acquisition.
    public func appendAndSync(_ records: [WALRecord]) throws(WALError) {
        var batch = EncodedBatch()
        for record in records { try batch.add(record, limit: options.maxRecordSize) }
        try commit(batch)
    }

    /// Adds a pre-encoded batch to the pending data and syncs everything pending (group commit path).
    func commit(_ batch: EncodedBatch) throws(WALError) {
        try state.withLock { (s: inout State) throws(WALError) in
            try Self.checkUsable(s)
            s.pending.append(batch)
            try flush(&s)
        }
    }

    private static func checkUsable(_ s: State) throws(WALError) {
        if s.closed { throw .closed }
        if let failure = s.failure { throw .poisoned(cause: failure) }
    }

    private func flush(_ s: inout State) throws(WALError) {
        try Self.checkUsable(s)
        guard !s.pending.bytes.isEmpty else { return }
        do throws(WALError) {
            if s.offset >= options.segmentSize { try rotate(&s) }
            let path = FileIO.join(directory, s.segments[s.segments.count - 1].fileName)
            let fd = s.fd
            let offset = s.offset
            reserve(&s, upTo: offset + s.pending.bytes.count, path: path)
            try FileIO.withRawBytes(s.pending.bytes) { (raw) throws(WALError) in
                try FileIO.pwriteAll(fd, raw, at: offset, path: path)
            }
            if let code = options.injectedSyncFailure?() { throw .io(operation: "fdatasync", path: path, errno: code) }
            try FileIO.fdatasync(s.fd, path: path)
        } catch {
            s.failure = error.description
            throw error
        }
        s.offset += s.pending.bytes.count
        s.pending.delta.apply(to: &s.written)
        syncCount.add(1, ordering: .relaxed)
        recordCount.add(s.pending.records, ordering: .relaxed)
        byteCount.add(s.pending.bytes.count, ordering: .relaxed)
        s.pending.removeAll()
    }

    /// Reserves space (see ``Options/preallocationChunk``) so that the file already covers `end`.
    /// The size change is made durable by the batch's own `fdatasync` that follows. A refusal is not an
    /// error (the write then grows the file as without reservation); it only stops further attempts.
    private func reserve(_ s: inout State, upTo end: Int, path: String) {
        let chunk = options.preallocationChunk
        guard chunk > 0, !s.preallocationFailed, end > s.allocated else { return }
        let target = (end + chunk - 1) / chunk * chunk
        if posix_fallocate(s.fd, off_t(s.allocated), off_t(target - s.allocated)) == 0 {
            s.allocated = target
        } else {
            s.preallocationFailed = true
        }
    }

    /// Starts the next segment: named after the last written entry index, opened with the tracked
    /// state (metadata, hard state, snapshot marker), synced, and its directory entry synced, before
    /// any batch goes into it. The previous segment was fully synced by the flush that filled it; its
    /// reserved tail is cut off first (and the cut synced), so only the last segment ever has one.
    private func rotate(_ s: inout State) throws(WALError) {
        if s.allocated > s.offset {
            let old = FileIO.join(directory, s.segments[s.segments.count - 1].fileName)
            try FileIO.ftruncate(s.fd, s.offset, path: old)
            try FileIO.fdatasync(s.fd, path: old)
        }
        let next = WALSegment(
            sequence: s.segments[s.segments.count - 1].sequence + 1, firstIndex: s.written.lastIndex + 1)
        let path = FileIO.join(directory, next.fileName)
        var head = EncodedBatch()
        for record in s.written.headRecords() { try head.add(record, limit: Int.max) }
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_EXCL)
        do throws(WALError) {
            try FileIO.withRawBytes(head.bytes) { (raw) throws(WALError) in
                try FileIO.pwriteAll(fd, raw, at: 0, path: path)
            }
            try FileIO.fdatasync(fd, path: path)
            try FileIO.fsyncDirectory(directory)
        } catch {
            FileIO.close(fd)
            throw error
        }
        FileIO.close(s.fd)
        s.fd = fd
        s.offset = head.bytes.count
        s.allocated = head.bytes.count
        s.segments.append(next)
    }

    /// Deletes the segments whose entries are all at or below `index`, typically the index of a
    /// snapshot that has been saved and whose marker has been synced to this log. The segment being
    /// written is never removed. Returns the paths removed.
    ///
    /// Safe because segment `k + 1` is named one past the last entry written before it was created,
    /// and each segment starts with the metadata, hard state and snapshot marker current at creation.
    @discardableResult
    public func releaseBefore(_ index: UInt64) throws(WALError) -> [String] {
        try state.withLock { (s: inout State) throws(WALError) -> [String] in
            try Self.checkUsable(s)
            var removed: [String] = []
            while s.segments.count > 1, s.segments[1].firstIndex == 0 || s.segments[1].firstIndex - 1 <= index {
                let path = FileIO.join(directory, s.segments[0].fileName)
                try FileIO.unlink(path)
                removed.append(path)
                s.segments.removeFirst()
            }
            if !removed.isEmpty { try FileIO.fsyncDirectory(directory) }
            return removed
        }
    }

    /// The segment files, oldest first.
    public var segmentFiles: [String] {
        state.withLock { s in s.segments.map { FileIO.join(directory, $0.fileName) } }
    }

    /// Counters since open.
    public var statistics: Statistics {
        Statistics(
            syncs: syncCount.load(ordering: .relaxed), records: recordCount.load(ordering: .relaxed),
            bytes: byteCount.load(ordering: .relaxed))
    }

    /// Syncs anything pending, closes the segment and releases the directory lock. Further calls
    /// throw ``WALError/closed``. Closing twice is harmless.
    public func close() throws(WALError) {
        try state.withLock { (s: inout State) throws(WALError) in
            if s.closed { return }
            defer {
                FileIO.close(s.fd)
                s.closed = true
                lock.release()
            }
            if s.failure == nil { try flush(&s) }
        }
    }

    deinit {
        state.withLock { s in
            if !s.closed { FileIO.close(s.fd) }
        }
        lock.release()
    }
}
