#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin throwing wrappers over the POSIX calls the WAL and snapshot store need.
///
/// Kept free of Foundation so the write path is exactly the syscalls it appears to be: one `pwrite`
/// and one `fdatasync` per batch. Every error names the path it concerns.
enum FileIO {
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(WALError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw .io(operation: "open", path: path, errno: errno) }
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(WALError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    /// Makes written data (and the file size) durable; metadata such as mtime is not needed for recovery.
    static func fdatasync(_ fd: Int32, path: String) throws(WALError) {
        #if canImport(Glibc)
        let rc = Glibc.fdatasync(fd)
        #else
        let rc = Darwin.fsync(fd)
        #endif
        if rc != 0 { throw .io(operation: "fdatasync", path: path, errno: errno) }
    }

    static func fsync(_ fd: Int32, path: String) throws(WALError) {
        if Glibc.fsync(fd) != 0 { throw .io(operation: "fsync", path: path, errno: errno) }
    }

    /// Makes the creation, rename or removal of entries in `directory` durable. Without it a crash can
    /// lose a freshly created segment even though its contents were fsynced.
    static func fsyncDirectory(_ directory: String) throws(WALError) {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: directory)
    }

    /// The size of the open file `fd`.
    static func size(_ fd: Int32, path: String) throws(WALError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
        return Int(st.st_size)
    }

    static func ftruncate(_ fd: Int32, _ length: Int, path: String) throws(WALError) {
        if Glibc.ftruncate(fd, off_t(length)) != 0 { throw .io(operation: "ftruncate", path: path, errno: errno) }
    }

    /// The whole file at `path`.
    static func readAll(_ path: String) throws(WALError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(operation: "fstat", path: path, errno: errno) }
        let size = Int(st.st_size)
        var buffer = [UInt8](repeating: 0, count: size)
        var done = 0
        var failure: Int32 = 0
        buffer.withUnsafeMutableBytes { raw in
            while done < size {
                let n = Glibc.pread(fd, raw.baseAddress! + done, size - done, off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { break }
                done += n
            }
        }
        if failure != 0 { throw .io(operation: "pread", path: path, errno: failure) }
        if done < size { buffer.removeLast(size - done) }
        return buffer
    }

    /// Names in `directory`, excluding `.` and `..`.
    static func list(_ directory: String) throws(WALError) -> [String] {
        guard let dir = opendir(directory) else { throw .io(operation: "opendir", path: directory, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Creates `directory` (one level) if it does not exist.
    /// A new directory's own entry is made durable by syncing its parent.
    static func ensureDirectory(_ directory: String) throws(WALError) {
        if mkdir(directory, 0o755) == 0 {
            var parent = String(directory.reversed().drop { $0 == "/" }.drop { $0 != "/" }.reversed())
            if parent.isEmpty { parent = directory.hasPrefix("/") ? "/" : "." }
            try fsyncDirectory(parent)
        } else if errno != EEXIST {
            throw .io(operation: "mkdir", path: directory, errno: errno)
        }
    }

    static func rename(_ from: String, _ to: String) throws(WALError) {
        if Glibc.rename(from, to) != 0 { throw .io(operation: "rename to \(to)", path: from, errno: errno) }
    }

    static func unlink(_ path: String) throws(WALError) {
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    /// `withUnsafeBytes` keeping the closure's typed error.
    static func withRawBytes<R>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WALError) -> R
    ) throws(WALError) -> R {
        let result: Result<R, WALError> = bytes.withUnsafeBytes { raw in
            do throws(WALError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// `value` as 16 lower-case hex digits, the fixed width that makes file names sort numerically.
    static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
