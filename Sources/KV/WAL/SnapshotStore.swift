#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Identity of a snapshot: the last log entry it covers and the cluster membership at that point.
public struct SnapshotFileMetadata: Equatable, Sendable {
    public var index: UInt64
    public var term: UInt64
    /// Membership (configuration) bytes as the Raft core encodes them; opaque here.
    public var membership: [UInt8]

    public init(index: UInt64, term: UInt64, membership: [UInt8] = []) {
        self.index = index
        self.term = term
        self.membership = membership
    }
}

/// A snapshot of the store: metadata plus the serialized state machine.
public struct SnapshotFile: Equatable, Sendable {
    public var metadata: SnapshotFileMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotFileMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}

/// When to take a snapshot: every `count` applied entries, like etcd's `--snapshot-count`.
public struct SnapshotPolicy: Sendable, Equatable {
    public var count: UInt64

    public init(count: UInt64 = 10_000) { self.count = count }

    /// Whether enough entries were applied since the last snapshot to take another one.
    public func shouldSnapshot(appliedIndex: UInt64, lastSnapshotIndex: UInt64) -> Bool {
        appliedIndex >= lastSnapshotIndex && appliedIndex - lastSnapshotIndex >= count
    }
}

/// Snapshot files `<term>-<index>.snap` (16 hex digits each) in one directory, written atomically.
///
/// File format (little-endian): magic `FLTSNAP1`, term, index (UInt64), membership length (UInt32),
/// membership, data length (UInt64), data, then a CRC-32C of everything before it.
///
/// Saving writes `<name>.tmp`, fsyncs it, renames it into place and fsyncs the directory, so a crash
/// leaves either no snapshot or a complete one (a leftover `.tmp` is removed on the next open).
///
/// Sequence for the member: ``save(_:)`` the snapshot, append and sync a
/// ``WALRecord/snapshotMarker(_:)`` for it, then ``WAL/releaseBefore(_:)`` and ``prune(keep:)``.
public final class SnapshotStore: Sendable {
    static let magic: [UInt8] = Array("FLTSNAP1".utf8)

    /// The directory holding the snapshot files.
    public let directory: String

    /// Opens (creating if needed) the snapshot directory and removes temporary files left by a crash
    /// during ``save(_:)``.
    public init(directory: String) throws(WALError) {
        self.directory = directory
        try FileIO.ensureDirectory(directory)
        for name in try FileIO.list(directory) where name.hasSuffix(".snap.tmp") {
            try FileIO.unlink(FileIO.join(directory, name))
        }
    }

    static func fileName(term: UInt64, index: UInt64) -> String {
        "\(FileIO.hex16(term))-\(FileIO.hex16(index)).snap"
    }

    /// Writes `snapshot` durably and atomically; returns its path.
    @discardableResult
    public func save(_ snapshot: SnapshotFile) throws(WALError) -> String {
        let m = snapshot.metadata
        var bytes = Self.magic
        bytes.reserveCapacity(48 + m.membership.count + snapshot.data.count)
        bytes.appendLE(m.term)
        bytes.appendLE(m.index)
        bytes.appendLE(UInt32(m.membership.count))
        bytes.append(contentsOf: m.membership)
        bytes.appendLE(UInt64(snapshot.data.count))
        bytes.append(contentsOf: snapshot.data)
        bytes.appendLE(CRC32C.checksum(bytes))

        let path = FileIO.join(directory, Self.fileName(term: m.term, index: m.index))
        let temporary = path + ".tmp"
        let fd = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(WALError) {
            try FileIO.withRawBytes(bytes) { (raw) throws(WALError) in
                try FileIO.pwriteAll(fd, raw, at: 0, path: temporary)
            }
            try FileIO.fsync(fd, path: temporary)
        } catch {
            FileIO.close(fd)
            try? FileIO.unlink(temporary)
            throw error
        }
        FileIO.close(fd)
        try FileIO.rename(temporary, path)
        try FileIO.fsyncDirectory(directory)
        return path
    }

    /// Snapshot files present, newest (highest index, then term) first.
    public func list() throws(WALError) -> [(metadata: SnapshotFileMetadata, path: String)] {
        var found: [(metadata: SnapshotFileMetadata, path: String)] = []
        for name in try FileIO.list(directory) where name.hasSuffix(".snap") {
            let parts = name.dropLast(5).split(separator: "-")
            guard parts.count == 2, let term = UInt64(parts[0], radix: 16), let index = UInt64(parts[1], radix: 16)
            else { continue }
            found.append((SnapshotFileMetadata(index: index, term: term), FileIO.join(directory, name)))
        }
        return found.sorted {
            ($0.metadata.index, $0.metadata.term) > ($1.metadata.index, $1.metadata.term)
        }
    }

    /// The newest snapshot, or nil if there is none. If the newest file is damaged this throws
    /// ``WALError/corruptSnapshot(file:offset:reason:)`` rather than quietly using an older one: the
    /// WAL may already have released the entries an older snapshot would need.
    public func loadNewest() throws(WALError) -> SnapshotFile? {
        guard let newest = try list().first else { return nil }
        return try load(listed: newest)
    }

    /// The newest valid snapshot that `acceptable` allows, plus the errors of the damaged files
    /// skipped on the way (for the log).
    ///
    /// Falling back is safe only if the WAL still holds every entry after the older snapshot's index.
    /// That holds when the member releases the WAL only up to the oldest snapshot it keeps (keep at
    /// least two with ``prune(keep:)``); `acceptable` is where the caller checks it.
    public func loadNewestValid(
        where acceptable: (SnapshotFileMetadata) -> Bool
    ) throws(WALError) -> (snapshot: SnapshotFile?, skipped: [WALError]) {
        var skipped: [WALError] = []
        for candidate in try list() where acceptable(candidate.metadata) {
            do throws(WALError) {
                return (try load(listed: candidate), skipped)
            } catch {
                if case .corruptSnapshot = error { skipped.append(error) } else { throw error }
            }
        }
        return (nil, skipped)
    }

    /// Loads a listed file and checks that its contents match its name (a renamed file is corrupt).
    private func load(listed: (metadata: SnapshotFileMetadata, path: String)) throws(WALError) -> SnapshotFile {
        let snapshot = try load(path: listed.path)
        guard snapshot.metadata.index == listed.metadata.index, snapshot.metadata.term == listed.metadata.term else {
            throw .corruptSnapshot(
                file: listed.path, offset: 8,
                reason: "contents are term \(snapshot.metadata.term) index \(snapshot.metadata.index), "
                    + "the file name says term \(listed.metadata.term) index \(listed.metadata.index)")
        }
        return snapshot
    }

    /// Reads and verifies one snapshot file.
    public func load(path: String) throws(WALError) -> SnapshotFile {
        let bytes = try FileIO.readAll(path)
        return try FileIO.withRawBytes(bytes) { (raw) throws(WALError) -> SnapshotFile in
            func corrupt(_ offset: Int, _ reason: String) -> WALError {
                .corruptSnapshot(file: path, offset: offset, reason: reason)
            }
            guard raw.count >= 8 + 8 + 8 + 4 + 8 + 4 else { throw corrupt(0, "file too short (\(raw.count) bytes)") }
            let body = raw.count - 4
            let stored: UInt32 = raw.loadLE(body)
            let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<body]))
            guard stored == computed else {
                let detail = "stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))"
                throw corrupt(body, "checksum mismatch (\(detail))")
            }
            guard Array(raw[0..<8]) == Self.magic else { throw corrupt(0, "bad magic") }
            let term: UInt64 = raw.loadLE(8)
            let index: UInt64 = raw.loadLE(16)
            let membershipCount = Int(raw.loadLE(24, as: UInt32.self))
            let membershipEnd = 28 + membershipCount
            guard membershipEnd + 8 <= body else {
                throw corrupt(24, "membership length \(membershipCount) overruns the file")
            }
            let dataCount = raw.loadLE(membershipEnd, as: UInt64.self)
            guard dataCount == UInt64(body - membershipEnd - 8) else {
                throw corrupt(membershipEnd, "data length \(dataCount) does not match the file size")
            }
            return SnapshotFile(
                metadata: SnapshotFileMetadata(index: index, term: term, membership: Array(raw[28..<membershipEnd])),
                data: Array(raw[(membershipEnd + 8)..<body]))
        }
    }

    /// Removes all but the `keep` newest snapshots; returns the paths removed.
    @discardableResult
    public func prune(keep: Int) throws(WALError) -> [String] {
        let old = try list().dropFirst(max(keep, 1)).map(\.path)
        for path in old { try FileIO.unlink(path) }
        if !old.isEmpty { try FileIO.fsyncDirectory(directory) }
        return old
    }
}
