import KV

/// The simulated application: a few registers (key -> last written value) plus the set of
/// applied request ids, so that retried writes are applied at most once (exactly-once writes
/// are what make client retries safe for linearizability).
struct RegisterMachine: Hashable {
    var values: [UInt8: UInt64] = [:]
    var appliedRequests: Set<UInt64> = []

    struct Write: Hashable {
        var request: UInt64
        var key: UInt8
        var value: UInt64
    }

    static func encode(_ w: Write) -> [UInt8] {
        var out: [UInt8] = [1, w.key]
        appendU64(&out, w.request)
        appendU64(&out, w.value)
        return out
    }

    static func decode(_ data: [UInt8]) -> Write? {
        guard data.count == 18, data[0] == 1 else { return nil }
        return Write(request: readU64(data, 2), key: data[1], value: readU64(data, 10))
    }

    /// Applies a committed entry; returns the write if it took effect (not a duplicate).
    mutating func apply(_ entry: Entry) -> Write? {
        guard entry.kind == .normal, let w = Self.decode(entry.data) else { return nil }
        guard appliedRequests.insert(w.request).inserted else { return nil }
        values[w.key] = w.value
        return w
    }

    func snapshotData() -> [UInt8] {
        var out: [UInt8] = []
        Self.appendU64(&out, UInt64(values.count))
        for k in values.keys.sorted() {
            out.append(k)
            Self.appendU64(&out, values[k]!)
        }
        Self.appendU64(&out, UInt64(appliedRequests.count))
        for r in appliedRequests.sorted() { Self.appendU64(&out, r) }
        return out
    }

    init() {}

    init(snapshotData d: [UInt8]) {
        guard d.count >= 8 else { return }
        var p = 0
        let n = Self.readU64(d, p); p += 8
        for _ in 0..<n {
            let k = d[p]; p += 1
            values[k] = Self.readU64(d, p); p += 8
        }
        let m = Self.readU64(d, p); p += 8
        for _ in 0..<m { appliedRequests.insert(Self.readU64(d, p)); p += 8 }
    }

    static func appendU64(_ out: inout [UInt8], _ v: UInt64) {
        for s in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }

    static func readU64(_ d: [UInt8], _ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(d[at + i]) << UInt64(8 * i) }
        return v
    }
}
