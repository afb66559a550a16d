import KV
import NIOCore
import NIOHTTP1

/// `journal`: a plain request without `follow`; with it, a streamed response whose lines are handed
/// on as they arrive.
extension FleetAPIClient {
    public func journal(_ name: String, machineID: String?, lines: Int, follow: Bool)
        async throws(FleetAPIError) -> AsyncThrowingStream<String, any Error>
    {
        let uri = Self.uri(
            Self.unitPath(name, "/journal"),
            [("machineID", machineID), ("lines", String(lines)), ("follow", follow ? "true" : "false")])
        let notFound = "unit \(name) does not exist"
        guard follow else {
            let answer = try await call(.GET, uri, notFound: notFound)
            var splitter = LineSplitter()
            let all = splitter.feed(answer.response.body) + splitter.finish()
            return AsyncThrowingStream { continuation in
                for line in all { continuation.yield(line) }
                continuation.finish()
            }
        }
        let (head, body) = try await openStream(uri)
        let code = Int(head.status.code)
        if !(200..<300).contains(code) {
            // An error answer is short: collect it (bounded by the request timeout) and map it.
            var collected = ByteBuffer()
            do {
                collected = try await withDeadline(seconds: requestTimeout) {
                    var all = ByteBuffer()
                    for try await chunk in body {
                        var piece = chunk
                        all.writeBuffer(&piece)
                    }
                    return all
                }
            } catch {}
            try Self.check(status: head.status, body: collected, notFound: notFound)
        }
        let (lines, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let pump = Task {
            var splitter = LineSplitter()
            do {
                for try await chunk in body {
                    for line in splitter.feed(chunk) { continuation.yield(line) }
                }
                for line in splitter.finish() { continuation.yield(line) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in pump.cancel() }
        return lines
    }

    /// Opens a streamed GET on the first endpoint that accepts a connection; the response head must
    /// arrive within the request timeout.
    private func openStream(_ uri: String) async throws(FleetAPIError)
        -> (HTTPResponseHead, AsyncThrowingStream<ByteBuffer, any Error>)
    {
        let timeout = requestTimeout
        let ((head, body), _) = try await firstReachable { target in
            try await withDeadline(seconds: timeout) {
                try await client(for: target).stream(.GET, target.endpoint, uri, connectTimeout: timeout)
            }
        }
        return (head, body)
    }
}

/// Cuts a byte stream into lines (without their `\n`), holding a partial line until it completes.
struct LineSplitter {
    private var pending: [UInt8] = []

    mutating func feed(_ buffer: ByteBuffer) -> [String] {
        var lines: [String] = []
        for byte in buffer.readableBytesView {
            if byte == UInt8(ascii: "\n") {
                lines.append(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
            }
        }
        return lines
    }

    /// The last line when the stream did not end with a newline.
    mutating func finish() -> [String] {
        defer { pending.removeAll() }
        return pending.isEmpty ? [] : [String(decoding: pending, as: UTF8.self)]
    }
}
