#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Group commit: many concurrent writers share one write and one `fdatasync`.
///
/// Each ``append(_:)`` encodes its records in the caller's task, queues them, and suspends until a
/// sync that covers them has returned; nothing is acknowledged before it is durable. A single writer
/// thread takes *everything* queued, writes it with one `pwrite` and syncs it with one `fdatasync`;
/// while that sync runs, new submissions pile up and form the next batch. So the number of syncs
/// adapts to load: one writer gets one sync per record, many writers share each sync.
///
/// The writer is a dedicated thread rather than a task because `fdatasync` blocks for milliseconds and
/// would starve Swift's small cooperative pool.
public final class GroupCommitter: Sendable {
    private let wal: WAL
    private let queue: CommitQueue
    private let thread: pthread_t

    /// Starts the writer thread for `wal`. The WAL's synchronous API stays usable alongside.
    public init(wal: WAL) {
        self.wal = wal
        let queue = CommitQueue()
        self.queue = queue
        let worker = Unmanaged.passRetained(CommitWorker(wal: wal, queue: queue)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                let worker = Unmanaged<CommitWorker>.fromOpaque(raw!).takeRetainedValue()
                worker.run()
                return nil
            }, worker)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        self.thread = thread
    }

    /// Appends `records` and returns once they are durable. Records of one call are written together
    /// and in order; calls that run concurrently are ordered arbitrarily relative to each other.
    ///
    /// Cancellation does not withdraw records already queued; the call still waits for their sync.
    public func append(_ records: [WALRecord]) async throws(WALError) {
        var batch = EncodedBatch()
        for record in records { try batch.add(record, limit: wal.options.maxRecordSize) }
        let result: Result<Void, WALError> = await withCheckedContinuation { continuation in
            if !queue.enqueue(batch, continuation) {
                continuation.resume(returning: .failure(.closed))
            }
        }
        try result.get()
    }

    /// Appends one record and returns once it is durable.
    public func append(_ record: WALRecord) async throws(WALError) {
        try await append([record])
    }

    /// Stops accepting records, lets the writer sync what is already queued, and joins it.
    /// Idempotent. Does not close the WAL.
    public func shutdown() {
        if queue.stop() { pthread_join(thread, nil) }
    }

    deinit { shutdown() }
}

/// A submission waiting for its sync.
struct PendingCommit: Sendable {
    var batch: EncodedBatch
    var continuation: CheckedContinuation<Result<Void, WALError>, Never>
}

/// The queue between submitters and the writer thread: a pthread mutex and condition variable, since
/// the writer must block (not suspend) while idle.
final class CommitQueue: @unchecked Sendable {
    // Guarded by `mutex`.
    private var items: [PendingCommit] = []
    private var stopping = false
    private var stopped = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues a submission; false if the queue is stopping.
    func enqueue(_ batch: EncodedBatch, _ continuation: CheckedContinuation<Result<Void, WALError>, Never>) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if stopping { return false }
        items.append(PendingCommit(batch: batch, continuation: continuation))
        pthread_cond_signal(condition)
        return true
    }

    /// Blocks until something is queued and takes all of it; nil once stopping and drained.
    func takeAll() -> [PendingCommit]? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while items.isEmpty && !stopping { pthread_cond_wait(condition, mutex) }
        if items.isEmpty { return nil }
        let taken = items
        items.removeAll(keepingCapacity: true)
        return taken
    }

    /// Marks the queue stopping; true for the first caller only (who must join the writer).
    func stop() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        stopping = true
        pthread_cond_signal(condition)
        if stopped { return false }
        stopped = true
        return true
    }
}

/// The writer thread's loop: take everything queued, commit it as one batch, resume every submitter.
final class CommitWorker: Sendable {
    let wal: WAL
    let queue: CommitQueue

    init(wal: WAL, queue: CommitQueue) {
        self.wal = wal
        self.queue = queue
    }

    func run() {
        while let taken = queue.takeAll() {
            var batch = EncodedBatch()
            for item in taken { batch.append(item.batch) }
            let result: Result<Void, WALError>
            do throws(WALError) {
                try wal.commit(batch)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            for item in taken { item.continuation.resume(returning: result) }
        }
    }
}
