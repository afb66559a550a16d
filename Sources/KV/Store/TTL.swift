/// TTL arithmetic. The store never reads a clock: every time here is an input in Unix nanoseconds,
/// normally the leader's timestamp carried by the replicated `StoreCommand`.
public enum TTL {
    public static let nanosPerSecond: Int64 = 1_000_000_000
    /// etcd treats expiry times before 2000-01-01T00:00:00Z as "permanent" (a guard against zero times
    /// from serialisation); with Go's wrapping `Duration` arithmetic a huge TTL lands there too.
    public static let minExpireTime: Int64 = 946_684_800 * 1_000_000_000

    /// Absolute expiry for `ttl` seconds from `now`, or `nil` (permanent) as etcd computes it:
    /// wrapping 64-bit arithmetic, then the `minExpireTime` rule.
    public static func expireTime(now: Int64, ttl: UInt64?) -> Int64? {
        guard let ttl else { return nil }
        let t = now &+ (Int64(truncatingIfNeeded: ttl) &* nanosPerSecond)
        return t < minExpireTime ? nil : t
    }

    /// `expiration` and `ttl` fields for a node: ttl = ceil((expire - now) / 1s) with Go's truncating
    /// division, so it is 0 (omitted) within the last second and negative once overdue.
    static func expirationAndTTL(_ expire: Int64?, now: Int64) -> (Int64?, Int64) {
        guard let expire else { return (nil, 0) }
        let d = expire &- now
        var ttl = d / nanosPerSecond
        if d % nanosPerSecond > 0 { ttl += 1 }
        return (expire, ttl)
    }

    /// RFC 3339 with nanoseconds in UTC, trailing zeros trimmed, as Go's `time.RFC3339Nano`
    /// (`2026-11-23T22:41:40.321383831Z`, `2026-11-23T22:43:18.76591815Z`, `…:05Z`).
    public static func rfc3339Nano(_ unixNanos: Int64) -> String {
        var secs = unixNanos / nanosPerSecond
        var nanos = unixNanos % nanosPerSecond
        if nanos < 0 { nanos += nanosPerSecond; secs -= 1 }
        var days = secs / 86_400
        var sod = secs % 86_400
        if sod < 0 { sod += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)

        var s = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        s += pad(sod / 3600, 2) + ":" + pad(sod / 60 % 60, 2) + ":" + pad(sod % 60, 2)
        if nanos != 0 {
            var frac = pad(nanos, 9)
            while frac.last == "0" { frac.removeLast() }
            s += "." + frac
        }
        return s + "Z"
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let digits = String(v)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
