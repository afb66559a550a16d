import Synchronization

/// Content hashes whose `unit/<hash>` blob this process wrote or found present a short while ago.
///
/// Why: a blob is content-addressed and create-only, so units with identical contents (1,000
/// `sleep` services, or instances copied from one template) share it. Without this, creating each
/// of them first tried the create and was refused: one replicated write (a Raft entry and a sync)
/// per unit that changes nothing. A hit skips that write.
///
/// Entries expire after `lifetime`: blobs are never deleted by fleet (no garbage collection), but
/// someone may remove one by hand with etcdctl, and then the next create after the expiry writes it
/// again. Bounded: when full it is emptied and refills.
final class KnownBlobs: Sendable {
    private let lifetime: Duration
    private let capacity: Int
    private let seen = Mutex<[String: ContinuousClock.Instant]>([:])

    init(lifetime: Duration = .seconds(30), capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    /// Whether the blob `hash` was written or seen within `lifetime`.
    func contains(_ hash: String, now: ContinuousClock.Instant = .now) -> Bool {
        seen.withLock { table in
            guard let at = table[hash] else { return false }
            if now - at < lifetime { return true }
            table[hash] = nil
            return false
        }
    }

    /// Records that the blob `hash` is in the store (just written, or refused as existing).
    func insert(_ hash: String, now: ContinuousClock.Instant = .now) {
        seen.withLock { table in
            if table.count >= capacity && table[hash] == nil { table.removeAll(keepingCapacity: true) }
            table[hash] = now
        }
    }
}
