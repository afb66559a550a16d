import Foundation

/// The engine leader lease: a TTL key that one engine holds at a time.
///
/// Taken with create (prevExist=false) and renewed with compare-and-swap on its modifiedIndex, so
/// a renewal is also an atomic check that this engine still holds it. The engine fences its
/// writes by renewing right before a batch of writes and writing only while `isValid` says the
/// lease cannot have expired in the store: the local validity window starts when the acquiring
/// or renewing request was *sent* and ends a safety margin before the TTL. A deposed or
/// partitioned engine fails its next renewal (compare failed, or no answer) and stops.
public final class LeaderLease: @unchecked Sendable {
    /// What the lease key holds (fleet's JSON shape, plus the epoch for fencing checks).
    public struct Record: Codable, Equatable, Sendable {
        public var MachineID: String
        public var Version: Int
    }

    /// The outcome of one `tick`.
    public enum State: Equatable, Sendable {
        /// This engine holds the lease; `epoch` (the lease key's createdIndex) changes with every
        /// new holder and is the fencing token written alongside the engine's decisions.
        case held(epoch: UInt64)
        /// Another engine holds it.
        case heldBy(String)
        /// The store did not answer; the lease is not held.
        case unknown(String)
    }

    public let key: String
    public let holderID: String
    public let ttlSeconds: Int
    public let version: Int
    private let store: any StoreClient
    private let lock = NSLock()
    private var modifiedIndex: UInt64 = 0
    private var epoch: UInt64 = 0
    private var validUntil: ContinuousClock.Instant = .now - .seconds(1)
    private var observed: UInt64 = 0

    /// - Parameters:
    ///   - key: e.g. `/_coreos.com/fleet/lease/engine-leader`.
    ///   - holderID: this engine's machine ID.
    ///   - ttlSeconds: lease TTL; another engine can take over this long after the holder dies.
    public init(store: any StoreClient, key: String, holderID: String, ttlSeconds: Int, version: Int = 1) {
        precondition(ttlSeconds >= 1, "a lease TTL is at least 1 s")
        self.store = store
        self.key = key
        self.holderID = holderID
        self.ttlSeconds = ttlSeconds
        self.version = version
    }

    /// Whether writes fenced by this lease may go out now.
    public var isValid: Bool {
        lock.withLock { epoch != 0 && ContinuousClock.now < validUntil }
    }

    /// The fencing token of the current tenure, or nil when not held.
    public var currentEpoch: UInt64? { isValid ? lock.withLock { epoch } : nil }

    /// The modifiedIndex of the lease key when a `tick` last found another engine holding it (0:
    /// never). A standby engine watches the key from just after it, to take over the moment the
    /// holder's lease expires or is released instead of at its next tick.
    public var observedIndex: UInt64 { lock.withLock { observed } }

    /// Renews the lease if held, otherwise takes it if free. Call it every `ttl / 3` or so, and
    /// right before writing a batch of decisions.
    public func tick() async -> State {
        let (held, index) = lock.withLock { (epoch != 0, modifiedIndex) }
        let sentAt = ContinuousClock.now
        do {
            if held {
                do {
                    let node = try await store.set(key, value: encodedRecord(), ttl: ttlSeconds, condition: .prevIndex(index))
                    return granted(node, sentAt: sentAt)
                } catch let error as StoreClientError {
                    // Compare failed: someone else took it; not found: it expired in the store.
                    // Either way our tenure is over; fall through to look at the key.
                    switch error {
                    case .compareFailed, .keyNotFound: lose()
                    default: throw error
                    }
                }
            }
            do {
                let node = try await store.set(key, value: encodedRecord(), ttl: ttlSeconds, condition: .mustNotExist)
                return granted(node, sentAt: sentAt)
            } catch StoreClientError.keyExists {
                let (node, _) = try await store.get(key, recursive: false, quorum: true)
                guard let node, let value = node.value else { return .unknown("lease vanished while reading it") }
                lock.withLock { observed = node.modifiedIndex }
                let record = try? JSONDecoder().decode(Record.self, from: Data(value.utf8))
                if record?.MachineID == holderID {
                    // Our own lease from before a restart: take it back by CAS.
                    let renewed = try await store.set(key, value: encodedRecord(), ttl: ttlSeconds,
                                                      condition: .prevIndex(node.modifiedIndex))
                    return granted(renewed, sentAt: sentAt)
                }
                return .heldBy(record?.MachineID ?? value)
            }
        } catch {
            // Unreachable store: keep the tenure only while it is surely still valid in the store;
            // `isValid` runs out by itself.
            return .unknown(String(describing: error))
        }
    }

    /// Gives the lease up (on shutdown), so another engine takes over at once.
    public func release() async {
        let (held, index) = lock.withLock { (epoch != 0, modifiedIndex) }
        lose()
        guard held else { return }
        _ = try? await store.delete(key, recursive: false, condition: .prevIndex(index))
    }

    private func granted(_ node: StoreNode, sentAt: ContinuousClock.Instant) -> State {
        // The store expires the key no earlier than TTL after it applied the write, which is after
        // the request was sent. The margin (10% of the TTL plus 250 ms) covers clock-rate drift
        // between this machine and the store's leader.
        let margin = Duration.milliseconds(ttlSeconds * 100 + 250)
        return lock.withLock {
            modifiedIndex = node.modifiedIndex
            epoch = node.createdIndex
            validUntil = sentAt + .seconds(ttlSeconds) - margin
            return .held(epoch: epoch)
        }
    }

    private func lose() {
        lock.withLock {
            epoch = 0
            modifiedIndex = 0
            validUntil = .now - .seconds(1)
        }
    }

    private func encodedRecord() -> String {
        let data = (try? JSONEncoder().encode(Record(MachineID: holderID, Version: version))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
