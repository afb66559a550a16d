import Foundation

/// Why a `nextPageToken` was refused (HTTP 400).
public enum APIPageTokenError: Error, Hashable, Sendable, CustomStringConvertible {
    case notBase64URL(String)
    case tooShort(String, bytes: Int)
    case wrongLimit(expected: UInt16)
    case pageZero
    case repeated

    public var description: String {
        switch self {
        case .notBase64URL(let token): return "page token \"\(token)\" is not base64url"
        case .tooShort(let token, let bytes):
            return "page token \"\(token)\" holds \(bytes) bytes; a token holds 4 (limit and page)"
        case .wrongLimit(let expected): return "token limit must be \(expected)"
        case .pageZero: return "token page must be greater than zero"
        case .repeated: return "nextPageToken given more than once"
        }
    }
}

/// fleet's page token: the little-endian pair `{limit: UInt16, page: UInt16}` in base64url (with
/// padding), pages counted from 1. Kept byte-compatible so fleet's own clients can page through us.
public struct APIPageToken: Hashable, Sendable {
    public var limit: UInt16
    public var page: UInt16

    public init(limit: UInt16, page: UInt16) {
        self.limit = limit
        self.page = page
    }

    /// The first page at the server's page size.
    public static func first(limit: UInt16) -> APIPageToken { APIPageToken(limit: limit, page: 1) }

    public var next: APIPageToken { APIPageToken(limit: limit, page: page &+ 1) }

    /// The wire form, e.g. `ZAACAA==` for limit 100, page 2.
    public var encoded: String {
        let bytes = [UInt8(limit & 0xff), UInt8(limit >> 8), UInt8(page & 0xff), UInt8(page >> 8)]
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }

    /// Decodes the wire form; bytes after the first four are ignored, as fleet did.
    public init(decoding token: String) throws(APIPageTokenError) {
        guard !token.contains("+"), !token.contains("/"),
            let data = Data(
                base64Encoded: token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/"))
        else { throw .notBase64URL(token) }
        let b = [UInt8](data)
        guard b.count >= 4 else { throw .tooShort(token, bytes: b.count) }
        self.init(limit: UInt16(b[0]) | UInt16(b[1]) << 8, page: UInt16(b[2]) | UInt16(b[3]) << 8)
    }

    /// Reads the `nextPageToken` query parameter (absent: the first page) and checks it against the
    /// server's page size: a token made for another size is refused, not reinterpreted.
    public static func from(query: [(name: String, value: String)], limit: UInt16) throws(APIPageTokenError)
        -> APIPageToken
    {
        let values = query.filter { $0.name == "nextPageToken" }.map(\.value)
        guard values.count <= 1 else { throw .repeated }
        guard let text = values.first else { return .first(limit: limit) }
        let token = try APIPageToken(decoding: text)
        guard token.limit == limit else { throw .wrongLimit(expected: limit) }
        guard token.page > 0 else { throw .pageZero }
        return token
    }

    /// The indices of this page within `total` items and the token of the following page.
    ///
    /// As in fleet, a page that ends exactly at the last item still carries a next token (whose page is
    /// then empty); a page starting past the end is empty with no token.
    public func window(total: Int) -> (range: Range<Int>, next: APIPageToken?) {
        let start = (Int(page) - 1) * Int(limit)
        let stop = Int(page) * Int(limit)
        guard start < total else { return (total..<total, nil) }
        return stop > total ? (start..<total, nil) : (start..<stop, next)
    }
}
