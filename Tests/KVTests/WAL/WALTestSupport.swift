@testable import KV

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under /tmp, unique per test (tests run in parallel), removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "wal") {
        var template = Array("/tmp/fleet-\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: made!)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { Self.removeTree(path) }

    static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileIO.list(path)) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

enum TestFiles {
    static func read(_ path: String) -> [UInt8] { (try? FileIO.readAll(path)) ?? [] }

    static func write(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        bytes.withUnsafeBytes { _ = pwrite(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
    }

    static func size(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : -1
    }

    static func truncate(_ path: String, to length: Int) {
        precondition(Glibc.truncate(path, off_t(length)) == 0)
    }

    static func flipByte(_ path: String, at offset: Int) {
        var bytes = read(path)
        bytes[offset] ^= 0x5A
        write(path, bytes)
    }
}

/// Builds test entries with recognizable, never-zero data.
func entry(_ index: UInt64, term: UInt64 = 1, size: Int = 20) -> WALEntry {
    WALEntry(
        term: term, index: index, kind: UInt8(index % 2),
        data: (0..<size).map { UInt8(truncatingIfNeeded: Int(index) &+ $0) | 1 })
}

/// The encoded size of a record, to compute offsets in tests.
func frameSize(_ record: WALRecord) -> Int {
    var buffer: [UInt8] = []
    try! RecordCodec.append(record, to: &buffer, limit: .max)
    return buffer.count
}
