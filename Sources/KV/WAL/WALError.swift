#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every failure of the write-ahead log and the snapshot store.
///
/// Each case names the file (and, for content problems, the byte offset) so an operator can find the
/// problem without a debugger. Corruption is never repaired silently: only a torn final record of the
/// last segment is truncated, and that is reported through ``WALTornTail`` rather than thrown.
public enum WALError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another process (another member) holds the lock on this data directory.
    case directoryLocked(directory: String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// A record that is not the torn tail of the last segment failed validation. The member must stop:
    /// the log up to `offset` is intact, the data after it cannot be trusted and is left untouched.
    case corruptRecord(file: String, offset: Int, reason: String)
    /// The segment files do not form a contiguous sequence (a file was removed or renamed by hand).
    case missingSegment(directory: String, expectedSequence: UInt64, found: String)
    /// A file ending in `.wal` whose name is not `<16 hex seq>-<16 hex index>.wal`.
    case invalidSegmentName(file: String)
    /// An entry whose index skips ahead of the entries replayed before it: the log has a hole.
    case entryGap(file: String, offset: Int, expectedAtMost: UInt64, found: UInt64)
    /// A snapshot file failed validation.
    case corruptSnapshot(file: String, offset: Int, reason: String)
    /// A record larger than the configured limit was submitted.
    case recordTooLarge(size: Int, limit: Int)
    /// An earlier write or fsync failed. After a failed fsync the page cache cannot be trusted
    /// (the kernel may have dropped the dirty pages), so the log refuses further writes: restart the
    /// member so replay can establish what is really on disk.
    case poisoned(cause: String)
    /// The log was closed.
    case closed

    public var description: String {
        switch self {
        case .directoryLocked(let directory):
            return "data directory \(directory) is locked by another member (flock on \(directory)/LOCK); "
                + "two members cannot share a data directory"
        case .io(let operation, let path, let code):
            return "\(operation) failed on \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .corruptRecord(let file, let offset, let reason):
            return "WAL corruption in \(file) at offset \(offset): \(reason); refusing to start "
                + "(records before this offset are intact; nothing was truncated)"
        case .missingSegment(let directory, let expected, let found):
            return "WAL segments in \(directory) are not contiguous: expected sequence \(expected), found \(found)"
        case .invalidSegmentName(let file):
            return "unexpected WAL file name \(file): expected <16 hex sequence>-<16 hex index>.wal"
        case .entryGap(let file, let offset, let expected, let found):
            return "WAL entry gap in \(file) at offset \(offset): entry index \(found) follows entries "
                + "ending at \(expected &- 1)"
        case .corruptSnapshot(let file, let offset, let reason):
            return "snapshot \(file) is corrupt at offset \(offset): \(reason)"
        case .recordTooLarge(let size, let limit):
            return "WAL record of \(size) bytes exceeds the limit of \(limit) bytes"
        case .poisoned(let cause):
            return "WAL is unusable after an earlier failure (\(cause)); restart the member to replay the log"
        case .closed:
            return "WAL is closed"
        }
    }
}
