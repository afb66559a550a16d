import NIOCore
import NIOHTTP1

/// A complete HTTP request as the server hands it to a responder: head and whole body.
///
/// Bodies are bounded by the server's `maxBodySize`, so holding them whole is safe and keeps
/// handlers simple (etcd's v2 API takes form bodies, never streams).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request target as sent: path plus optional `?query`.
    public var uri: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    /// The peer's address, when known (for logs and stats).
    public var remoteAddress: String?

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(),
                remoteAddress: String? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The path, percent-decoded, without the query.
    public var path: String {
        let raw = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return URLEncoding.percentDecode(raw, plusAsSpace: false) ?? raw
    }

    /// The raw (still encoded) path, for routers that must see escaped slashes.
    /// (Slices of `uri`, found without splitting into an array: routing asks for it several
    /// times per request.)
    public var rawPath: Substring {
        guard let q = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return uri[...] }
        return uri[..<q]
    }

    /// The query string without `?`, or "".
    public var rawQuery: Substring {
        guard let q = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return "" }
        return uri[uri.utf8.index(after: q)...]
    }

    /// Query parameters, in order, decoded. Malformed escapes throw.
    public func queryItems() throws(URLEncodingError) -> [(name: String, value: String)] {
        try URLEncoding.parseForm(rawQuery)
    }

    /// Query and form-body parameters merged (body first, as Go's `Request.Form` does for
    /// POST, PUT and PATCH with `application/x-www-form-urlencoded`).
    public func formValues() throws(URLEncodingError) -> FormParameters {
        var values = FormParameters()
        if [.POST, .PUT, .PATCH].contains(method), isFormBody {
            let text = String(decoding: body.readableBytesView, as: UTF8.self)
            for (k, v) in try URLEncoding.parseForm(Substring(text)) { values.append(k, v) }
        }
        for (k, v) in try queryItems() { values.append(k, v) }
        return values
    }

    /// Whether the body is a URL-encoded form (the default when no content type is given).
    public var isFormBody: Bool {
        guard let type = headers.first(name: "content-type") else { return body.readableBytes > 0 }
        return type.lowercased().hasPrefix("application/x-www-form-urlencoded")
    }
}

/// Ordered multi-valued form parameters.
public struct FormParameters: Sendable {
    public private(set) var items: [(name: String, value: String)] = []

    public init() {}

    public mutating func append(_ name: String, _ value: String) { items.append((name, value)) }

    /// The first value for `name`, like Go's `FormValue`.
    public subscript(_ name: String) -> String? { items.first { $0.name == name }?.value }

    public func has(_ name: String) -> Bool { items.contains { $0.name == name } }

    public func all(_ name: String) -> [String] { items.filter { $0.name == name }.map(\.value) }
}
