import Foundation
import KV
import NIOCore
import NIOHTTP1

/// JSON bodies as fleet's Go server writes them, byte for byte where it matters to scripts: compact,
/// keys in alphabetical order (the order of fleet's generated schema structs), `/` unescaped and
/// `<`, `>`, `&` escaped as `\u003c`, `\u003e`, `\u0026` (Go's HTML-safe encoding).
enum APIJSON {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own Codable types cannot fail.
        let text = (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
        guard text.contains(where: { $0 == "<" || $0 == ">" || $0 == "&" }) else { return text }
        // Outside strings JSON never contains these characters, so replacing them everywhere is safe.
        return text.replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
    }

    static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
    }

    /// A JSON response with `status`.
    static func response<T: Encodable>(_ status: HTTPResponseStatus, _ value: T) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", text: encode(value))
    }

    /// fleet's error body.
    static func response(for error: APIServerError) -> HTTPResponse {
        response(error.status, APIErrorBody(code: Int(error.status.code), message: error.message))
    }

    /// A bodiless answer (201, 204).
    static func empty(_ status: HTTPResponseStatus) -> HTTPResponse { HTTPResponse(status: status) }
}
