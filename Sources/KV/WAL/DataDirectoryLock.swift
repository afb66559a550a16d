import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on `<directory>/LOCK`, held for as long as a member uses the directory.
///
/// Two members writing one WAL would interleave records and destroy it; the lock turns that mistake
/// into an immediate ``WALError/directoryLocked(directory:)``. `flock` locks belong to the open file
/// description, so the kernel drops the lock when the process dies (even by SIGKILL): no stale lock
/// files to clean up, and a second open in the same process conflicts too.
public final class DataDirectoryLock: Sendable {
    /// The locked directory.
    public let directory: String
    private let descriptor: Mutex<Int32>

    private init(directory: String, fd: Int32) {
        self.directory = directory
        self.descriptor = Mutex(fd)
    }

    /// Locks `directory` (creating it and its `LOCK` file if needed), or throws
    /// ``WALError/directoryLocked(directory:)`` if another holder has it. Never waits.
    public static func acquire(_ directory: String) throws(WALError) -> DataDirectoryLock {
        try FileIO.ensureDirectory(directory)
        let path = FileIO.join(directory, "LOCK")
        let fd = try FileIO.open(path, O_RDWR | O_CREAT)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            FileIO.close(fd)
            if code == EWOULDBLOCK { throw .directoryLocked(directory: directory) }
            throw .io(operation: "flock", path: path, errno: code)
        }
        return DataDirectoryLock(directory: directory, fd: fd)
    }

    /// Releases the lock. Idempotent; also done on deinit.
    ///
    /// Unlocks explicitly before closing: a child being spawned concurrently can briefly share the
    /// descriptor (between fork and exec), and closing alone would leave the lock held until it execs.
    public func release() {
        descriptor.withLock { fd in
            if fd >= 0 {
                _ = flock(fd, LOCK_UN)
                FileIO.close(fd)
                fd = -1
            }
        }
    }

    deinit { release() }
}
