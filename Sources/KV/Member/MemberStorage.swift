#if canImport(Glibc)
import Glibc
#endif

/// Who a data directory belongs to: written as the WAL's metadata and checked on every restart,
/// so a data directory is never reused by another member or cluster.
public struct MemberIdentity: Sendable, Equatable {
    public var memberID: UInt64
    public var clusterID: UInt64

    func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(1)
        w.u64(memberID)
        w.u64(clusterID)
        return w.bytes
    }

    init(memberID: UInt64, clusterID: UInt64) {
        self.memberID = memberID
        self.clusterID = clusterID
    }

    init(decoding bytes: [UInt8]) throws(StoreDecodingError) {
        var r = ByteReader(bytes)
        let v = try r.u8()
        guard v == 1 else { throw .unsupportedVersion(v) }
        memberID = try r.u64()
        clusterID = try r.u64()
    }
}

/// Failures of a member's storage, each naming the data directory.
public enum MemberStorageError: Error, CustomStringConvertible {
    case wal(WALError)
    case cannotCreate(String, errno: Int32)
    case foreignDataDirectory(directory: String, found: MemberIdentity, expected: MemberIdentity)
    case corruptIdentity(directory: String)
    case snapshotMissing(directory: String, markerIndex: UInt64, newestFile: UInt64)
    case corruptSnapshot(directory: String, reason: String)

    public var description: String {
        switch self {
        case .wal(let e): return e.description
        case .cannotCreate(let dir, let e): return "cannot create \(dir): \(String(cString: strerror(e)))"
        case .foreignDataDirectory(let dir, let found, let expected):
            return "data directory \(dir) belongs to member \(MemberInfo.hex(found.memberID)) of cluster "
                + "\(MemberInfo.hex(found.clusterID)), not to member \(MemberInfo.hex(expected.memberID)) of cluster "
                + "\(MemberInfo.hex(expected.clusterID)); use another --data-dir or remove it"
        case .corruptIdentity(let dir): return "the WAL metadata in \(dir) is not a member identity"
        case .snapshotMissing(let dir, let marker, let newest):
            return "the WAL in \(dir) starts after a snapshot at index \(marker) but the newest snapshot file is at \(newest)"
        case .corruptSnapshot(let dir, let reason): return "snapshot in \(dir) is unusable: \(reason)"
        }
    }
}

/// A member's durable Raft state: the WAL (entries, hard state) and snapshot files, laid out as
/// etcd does under `<data-dir>/member/{wal,snap}`.
final class MemberStorage: @unchecked Sendable {
    let directory: String
    let wal: WAL
    let snapshots: SnapshotStore
    private(set) var snapshotIndex: UInt64

    /// What replay found: the Raft state to start from, the identity, and a torn tail if any.
    struct Recovered {
        var raft: MemoryStorage
        var identity: MemberIdentity?
        var tornTail: WALTornTail?
    }

    private init(directory: String, wal: WAL, snapshots: SnapshotStore, snapshotIndex: UInt64) {
        self.directory = directory
        self.wal = wal
        self.snapshots = snapshots
        self.snapshotIndex = snapshotIndex
    }

    /// Whether `dataDir` already holds a member's log (a restart rather than a first start).
    static func exists(_ dataDir: String) -> Bool {
        access(dataDir + "/member/wal", F_OK) == 0
    }

    /// The member's WAL settings: etcd's 64 MiB segments, with space reserved 8 MiB at a time so that
    /// each batch's `fdatasync` flushes data, not a file-size change as well (see
    /// ``WAL/Options/preallocationChunk``).
    static let walOptions = WAL.Options(segmentSize: 64 << 20, preallocationChunk: 8 << 20)

    static func open(dataDir: String) throws(MemberStorageError) -> (MemberStorage, Recovered) {
        for dir in [dataDir, dataDir + "/member", dataDir + "/member/wal", dataDir + "/member/snap"] {
            if mkdir(dir, 0o700) != 0 && errno != EEXIST { throw .cannotCreate(dir, errno: errno) }
        }
        let (wal, replay): (WAL, WALReplay)
        let snapshots: SnapshotStore
        do {
            (wal, replay) = try WAL.open(directory: dataDir + "/member/wal", options: walOptions)
            snapshots = try SnapshotStore(directory: dataDir + "/member/snap")
        } catch {
            throw .wal(error)
        }
        var identity: MemberIdentity?
        if let meta = replay.metadata {
            guard let id = try? MemberIdentity(decoding: meta) else { throw .corruptIdentity(directory: dataDir) }
            identity = id
        }
        var raft = MemoryStorage()
        if let marker = replay.snapshot, marker.index > 0 {
            let file: SnapshotFile?
            do { file = try snapshots.loadNewest() } catch { throw .wal(error) }
            guard let file, file.metadata.index >= marker.index else {
                throw .snapshotMissing(directory: dataDir, markerIndex: marker.index, newestFile: (try? snapshots.loadNewest())??.metadata.index ?? 0)
            }
            let meta: SnapshotMetadata
            do { meta = try RaftWireCodec.decodeMetadata(file.metadata.membership) } catch {
                throw .corruptSnapshot(directory: dataDir, reason: "\(error)")
            }
            raft.snapshot = Snapshot(metadata: meta, data: file.data)
        }
        raft.entries = replay.entries.compactMap { e in
            guard e.index > raft.snapshot.metadata.index, let kind = EntryKind(rawValue: e.kind) else { return nil }
            return Entry(term: e.term, index: e.index, kind: kind, data: e.data)
        }
        if let hs = replay.hardState {
            raft.hardState = HardState(term: hs.term, vote: hs.vote, commit: hs.commit)
        }
        let storage = MemberStorage(directory: dataDir, wal: wal, snapshots: snapshots,
                                    snapshotIndex: raft.snapshot.metadata.index)
        return (storage, Recovered(raft: raft, identity: identity, tornTail: replay.tornTail))
    }

    /// Writes the identity (first start) or checks it (restart).
    func claim(_ identity: MemberIdentity, recovered: MemberIdentity?) throws(MemberStorageError) {
        if let recovered {
            guard recovered == identity else {
                throw .foreignDataDirectory(directory: directory, found: recovered, expected: identity)
            }
            return
        }
        do { try wal.appendAndSync([.metadata(identity.encoded())]) } catch { throw .wal(error) }
    }

    /// Term and vote last made durable: a hard state that changes only the commit index does
    /// not need a sync of its own (see ``persist(snapshot:entries:hardState:)``).
    private var syncedTermAndVote: (term: UInt64, vote: UInt64)?

    /// Persists the durable part of a Ready: snapshot, entries, hard state; one fsync.
    ///
    /// A Ready whose only durable change is a higher commit index is queued without a sync: it is
    /// written by the next sync (or on close). Raft needs the commit index for nothing after a
    /// crash (the leader re-establishes it, and entries acknowledged to clients are durable on a
    /// quorum already), so an fsync here would only add a disk round trip between a commit and
    /// its apply on every write. Term and vote changes are always synced before anything is sent.
    func persist(snapshot: Snapshot?, entries: [Entry], hardState: HardState?) throws(MemberStorageError) {
        if snapshot == nil, entries.isEmpty, let hs = hardState, let synced = syncedTermAndVote,
           synced.term == hs.term, synced.vote == hs.vote {
            let record = WALRecord.hardState(WALHardState(term: hs.term, vote: hs.vote, commit: hs.commit))
            do { try wal.append([record]) } catch { throw .wal(error) }
            return
        }
        var records: [WALRecord] = []
        if let snapshot {
            try saveSnapshotFile(snapshot)
            records.append(.snapshotMarker(WALSnapshotMarker(index: snapshot.metadata.index, term: snapshot.metadata.term)))
        }
        for e in entries {
            records.append(.entry(WALEntry(term: e.term, index: e.index, kind: e.kind.rawValue, data: e.data)))
        }
        if let hs = hardState {
            records.append(.hardState(WALHardState(term: hs.term, vote: hs.vote, commit: hs.commit)))
        }
        guard !records.isEmpty else { return }
        do { try wal.appendAndSync(records) } catch { throw .wal(error) }
        if let hs = hardState { syncedTermAndVote = (hs.term, hs.vote) }
    }

    /// Records a snapshot taken locally and drops the log behind the older of the two kept.
    func compacted(_ snapshot: Snapshot) throws(MemberStorageError) {
        try saveSnapshotFile(snapshot)
        do {
            try wal.appendAndSync([.snapshotMarker(WALSnapshotMarker(index: snapshot.metadata.index, term: snapshot.metadata.term))])
            let kept = try snapshots.list().prefix(2)
            if let oldest = kept.last { _ = try wal.releaseBefore(oldest.metadata.index) }
            _ = try snapshots.prune(keep: 2)
        } catch {
            throw .wal(error)
        }
    }

    private func saveSnapshotFile(_ snapshot: Snapshot) throws(MemberStorageError) {
        let meta = SnapshotFileMetadata(index: snapshot.metadata.index, term: snapshot.metadata.term,
                                        membership: RaftWireCodec.encode(snapshot.metadata))
        do { _ = try snapshots.save(SnapshotFile(metadata: meta, data: snapshot.data)) } catch { throw .wal(error) }
        snapshotIndex = max(snapshotIndex, snapshot.metadata.index)
    }

    func close() {
        try? wal.close()
    }
}
