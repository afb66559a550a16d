import Synchronization

/// Decoded job objects and unit files by the exact text they were decoded from.
///
/// Why: every engine pass (the safety reconcile every 30 s included) and every agent answer decodes
/// the registry afresh, and with 10,000 units most of a pass went to JSON-decoding job objects,
/// parsing unit texts and hashing them again, although stored texts rarely change. The result of a
/// decode depends only on the text, so it can be reused as long as the text is identical: a hit
/// costs one hash of the text instead of a JSON decode, a unit parse and a SHA-1. Failures are not
/// kept (they are re-reported on every read). Bounded: when full it is emptied and refills.
final class RegistryDecodeCache: Sendable {
    /// The cache all registry readers of this process share.
    static let shared = RegistryDecodeCache(capacity: 50_000)

    private struct FileKey: Hashable {
        let blob: String
        let original: String?
    }

    private let capacity: Int
    private let objects = Mutex<[String: JobObject]>([:])
    private let files = Mutex<[FileKey: UnitFile]>([:])

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// The `job/<u>/object` value decoded (``RegistryJSON``).
    func jobObject(_ text: String) throws -> JobObject {
        if let hit = objects.withLock({ $0[text] }) { return hit }
        let decoded = try RegistryJSON.decode(JobObject.self, from: text)
        objects.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[text] = decoded
        }
        return decoded
    }

    /// The unit a job object describes: its blob (`unit/<hash>` text) decoded, or the text as
    /// submitted (`original`, kept for `cat`) when that parses to the same hash.
    func unitFile(blob: String, original: String?, hash: UnitHash) throws -> UnitFile {
        let key = FileKey(blob: blob, original: original)
        if let hit = files.withLock({ $0[key] }) { return hit }
        var chosen = try RegistryJSON.decode(UnitBlob.self, from: blob).unitFile()
        if let original, let parsed = try? UnitFile(parsing: original), parsed.hash == hash { chosen = parsed }
        files.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[key] = chosen
        }
        return chosen
    }
}
