/// Byte-exact JSON for v2 keys responses, written by hand because field order, omission rules and
/// string escaping must match etcd (Go's `encoding/json`) exactly.
///
/// - Event: `{"action":…,"node":{…},"prevNode":{…}}`; node fields in the order
///   `key, value, dir, expiration, ttl, nodes, modifiedIndex, createdIndex`, each omitted when
///   empty/zero (`value` is printed whenever present, even `""`).
/// - Error: `{"errorCode":N,"message":"…","cause":"…","index":I}`, `cause` omitted when empty.
/// - Strings are escaped as Go does: `"` and `\`, `\n` `\r` `\t`, other control characters as
///   `\u00XX`, the HTML-sensitive `<` `>` `&` as `\u003c` `\u003e` `\u0026`, and U+2028/U+2029.
/// Every body ends with `\n`, like `json.Encoder`.
public enum V2JSON {
    /// Encodes a keys response body (also one line of a `stream=true` watch).
    ///
    /// - Parameters:
    ///   - trimPrefix: internal namespace removed from every key (`/1/a` -> `/a`; the root `/1`
    ///     becomes the key-less root), as etcd does before answering.
    ///   - noValueOnSuccess: the `noValueOnSuccess=true` parameter: for set, create, update and
    ///     compareAndSwap only `{"action":…}` is written.
    public static func encode(_ e: StoreEvent, trimPrefix: String = KeyPath.userPrefix,
                              noValueOnSuccess: Bool = false) -> String {
        var out = "{\"action\":"
        // Sized up front: a PUT's answer holds its value twice (node and prevNode), and growing the
        // string by doubling from a few bytes cost several copies per answer.
        out.reserveCapacity(64 + estimatedSize(e.node) + (e.prevNode.map(estimatedSize) ?? 0))
        appendString(e.action.rawValue, to: &out)
        let bare: Bool
        switch e.action {
        case .set, .create, .update, .compareAndSwap: bare = noValueOnSuccess
        default: bare = false
        }
        if !bare {
            out += ",\"node\":"
            appendNode(e.node, trimPrefix: trimPrefix, to: &out)
            if let p = e.prevNode {
                out += ",\"prevNode\":"
                appendNode(p, trimPrefix: trimPrefix, to: &out)
            }
        }
        out += "}\n"
        return out
    }

    /// Encodes an error body; the cause is trimmed of `trimPrefix` as etcd does.
    public static func encode(_ e: StoreError, trimPrefix: String = KeyPath.userPrefix) -> String {
        let e = e.trimmingPrefix(trimPrefix)
        var out = "{\"errorCode\":\(e.code.rawValue),\"message\":"
        appendString(e.message, to: &out)
        if !e.cause.isEmpty {
            out += ",\"cause\":"
            appendString(e.cause, to: &out)
        }
        out += ",\"index\":\(e.index)}\n"
        return out
    }

    /// About the encoded size of a node without its children (fixed fields plus key and value).
    private static func estimatedSize(_ n: NodeView) -> Int {
        112 + n.key.utf8.count + (n.value?.utf8.count ?? 0)
    }

    /// Appends one node object.
    public static func appendNode(_ n: NodeView, trimPrefix: String, to out: inout String) {
        out += "{"
        var first = true
        func field(_ name: String) {
            if !first { out += "," }
            first = false
            out += "\""
            out += name
            out += "\":"
        }
        var key = n.key
        if !trimPrefix.isEmpty && key.hasPrefix(trimPrefix) { key = String(key.dropFirst(trimPrefix.count)) }
        if !key.isEmpty {
            field("key")
            appendString(key, to: &out)
        }
        if let v = n.value {
            field("value")
            appendString(v, to: &out)
        }
        if n.dir {
            field("dir")
            out += "true"
        }
        if let exp = n.expiration {
            field("expiration")
            out += "\"" + TTL.rfc3339Nano(exp) + "\""
        }
        if n.ttl != 0 {
            field("ttl")
            out += String(n.ttl)
        }
        if let nodes = n.nodes, !nodes.isEmpty {
            field("nodes")
            out += "["
            for (i, c) in nodes.enumerated() {
                if i > 0 { out += "," }
                appendNode(c, trimPrefix: trimPrefix, to: &out)
            }
            out += "]"
        }
        if n.modifiedIndex != 0 {
            field("modifiedIndex")
            out += String(n.modifiedIndex)
        }
        if n.createdIndex != 0 {
            field("createdIndex")
            out += String(n.createdIndex)
        }
        out += "}"
    }

    private static let hex: [Character] = Array("0123456789abcdef")

    /// Appends `s` as a JSON string literal escaped like Go's `encoding/json` (HTML-safe mode).
    ///
    /// Runs of bytes that need no escaping are copied whole (a value is usually one run), so the
    /// cost is a scan of the UTF-8 bytes rather than an append per Unicode scalar: this runs for
    /// every key and value of every response.
    public static func appendString(_ s: String, to out: inout String) {
        out.append("\"")
        // The usual case, a native string with nothing to escape, is checked on its contiguous
        // bytes and copied in one append; the index walk below is for the rest.
        if s.utf8.withContiguousStorageIfAvailable({ bytes in !bytes.contains(where: mayNeedEscape) }) == true {
            out.append(s)
            out.append("\"")
            return
        }
        let u = s.utf8
        var run = u.startIndex
        var i = u.startIndex
        while i != u.endIndex {
            let b = u[i]
            guard mayNeedEscape(b) else {
                i = u.index(after: i)
                continue
            }
            var end = u.index(after: i)
            let escaped: UInt32
            if b == 0xE2 {
                guard end != u.endIndex, u[end] == 0x80 else { i = end; continue }
                let third = u.index(after: end)
                guard third != u.endIndex, u[third] == 0xA8 || u[third] == 0xA9 else { i = end; continue }
                escaped = u[third] == 0xA8 ? 0x2028 : 0x2029
                end = u.index(after: third)
            } else {
                escaped = UInt32(b)
            }
            out += s[run..<i]
            appendEscape(escaped, to: &out)
            i = end
            run = end
        }
        out += s[run..<u.endIndex]
        out.append("\"")
    }

    /// Bytes that may need escaping: controls, `"`, `&`, `<`, `>`, `\`, and the lead byte of
    /// U+2028/U+2029 (E2 80 A8/A9).
    @inline(__always)
    private static func mayNeedEscape(_ b: UInt8) -> Bool {
        // Below 64 a bit mask: the controls (bits 0-31) and `"` `&` `<` `>` (0x22 0x26 0x3C 0x3E).
        if b < 64 { return (0x5000_0044_FFFF_FFFF as UInt64) >> b & 1 == 1 }
        return b == 0x5C || b == 0xE2
    }

    /// The escape of one scalar that JSON (or Go's HTML-safe mode) does not allow verbatim.
    private static func appendEscape(_ v: UInt32, to out: inout String) {
        switch v {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        default:
            out += "\\u"
            out.append(hex[Int(v >> 12 & 0xF)])
            out.append(hex[Int(v >> 8 & 0xF)])
            out.append(hex[Int(v >> 4 & 0xF)])
            out.append(hex[Int(v & 0xF)])
        }
    }
}
