/// Key canonicalisation for the v2 store.
///
/// etcd cleans every key with Go's `path.Clean(path.Join("/", key))`, so `a/b/`, `/a//b` and `/a/./b`
/// all name `/a/b`. We reproduce that rule here (our own implementation) so every member derives the
/// same internal path from the same request.
public enum KeyPath {
    /// Internal prefix of the user key space, as in etcd (`/1`). Membership lives under `/0`.
    public static let userPrefix = "/1"
    /// Internal prefix reserved for cluster membership (`/0`), unreachable through `/v2/keys`.
    public static let clusterPrefix = "/0"

    /// `path.Clean(path.Join("/", p))`: an absolute path without empty, `.` or `..` segments and no
    /// trailing slash (except for the root `/`).
    public static func canonical(_ p: some StringProtocol) -> String {
        // Nearly every key arrives already clean: return it without splitting and re-joining.
        if isCanonical(p.utf8) { return String(p) }
        var out: [Substring] = []
        for seg in p.split(separator: "/", omittingEmptySubsequences: true) {
            let s = Substring(seg)
            if s == "." { continue }
            if s == ".." {
                if !out.isEmpty { out.removeLast() }
                continue
            }
            out.append(s)
        }
        if out.isEmpty { return "/" }
        var r = ""
        for s in out {
            r.append("/")
            r.append(contentsOf: s)
        }
        return r
    }

    /// Whether `p` is already what `canonical` returns: `/` alone, or `/`-separated non-empty
    /// segments other than `.` and `..`, with no trailing `/`.
    static func isCanonical(_ p: some Collection<UInt8>) -> Bool {
        guard p.first == UInt8(ascii: "/") else { return false }
        if p.count == 1 { return true }
        // Length of the current segment, and whether it is only dots so far.
        var length = 0
        var dots = true
        for b in p.dropFirst() {
            if b == UInt8(ascii: "/") {
                if length == 0 || (dots && length <= 2) { return false }
                length = 0
                dots = true
            } else {
                length += 1
                if b != UInt8(ascii: ".") { dots = false }
            }
        }
        return length > 0 && !(dots && length <= 2)
    }

    /// Maps a user key (the part of the URL after `/v2/keys`, already percent-decoded) to the internal
    /// store path under `/1`. The user part is cleaned first so `..` can never escape into `/0`.
    public static func userKey(_ p: some StringProtocol) -> String {
        let c = canonical(p)
        return c == "/" ? userPrefix : userPrefix + c
    }

    /// Parent path and last component of a canonical path (`/a/b` -> (`/a`, `b`); `/a` -> (`/`, `a`)).
    static func split(_ p: String) -> (parent: String, name: String) {
        // On UTF-8 bytes: `/` is ASCII, so the byte index is a character boundary, and the search
        // skips `Character` (grapheme) stepping; this runs for every write a member applies.
        guard let slash = p.utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("/", p) }
        let name = String(p[p.index(after: slash)...])
        let parent = slash == p.startIndex ? "/" : String(p[..<slash])
        return (parent, name)
    }

    /// Components of a canonical path (`/a/b` -> [`a`, `b`]; `/` -> []).
    static func components(_ p: String) -> [Substring] {
        // Split on the UTF-8 bytes (see `split`): a generic `split(separator: Character)` was a
        // few percent of the Raft loop's CPU under write load.
        var out: [Substring] = []
        let u = p.utf8
        var start = u.startIndex
        var i = start
        while i != u.endIndex {
            if u[i] == UInt8(ascii: "/") {
                if start != i { out.append(p[start..<i]) }
                start = u.index(after: i)
            }
            i = u.index(after: i)
        }
        if start != u.endIndex { out.append(p[start..<u.endIndex]) }
        return out
    }

    /// `path.Join(parent, name)` for a canonical parent and a plain name.
    static func join(_ parent: String, _ name: some StringProtocol) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }

    /// Whether a write at `keyPath` is hidden from a watcher at `watchPath`: some component below the
    /// watched path starts with `_` (etcd's rule; hidden keys can be watched directly, not from above).
    static func isHidden(watchPath: String, keyPath: String) -> Bool {
        let w = watchPath.utf8.count, k = keyPath.utf8.count
        if w > k { return false }
        let after = keyPath.utf8.dropFirst(w)
        let rest = canonical(String(decoding: after, as: UTF8.self))
        return rest.contains("/_")
    }

    /// Whether `key` equals `dir` or lies below it (`/a` contains `/a/b`, not `/ab`).
    static func isWithin(_ key: String, dir: String) -> Bool {
        if key == dir { return true }
        if dir == "/" { return key.hasPrefix("/") }
        return key.hasPrefix(dir + "/")
    }
}
