import KV
import NIOCore
import NIOHTTP1

/// Forwarding a status or journal request to the fleetd of the machine running the unit, through
/// the `APIURL` that machine advertises. The answer is relayed as it comes (status, type, body); a
/// followed journal is relayed chunk by chunk while the caller stays connected.
extension FleetAPIResponder {
    func forward(_ name: String, _ kind: Inspection, _ parameters: InspectionParameters, machineID: String, url: String)
        async throws(APIServerError) -> HTTPResponse
    {
        let lower = url.lowercased()
        guard let (endpoint, tls) = HTTPEndpoint.parse(url: url),
              lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("unix:")
        else {
            throw .badGateway("machine \(machineID) advertises an unusable API address \"\(url)\"; expected http(s)://host:port")
        }
        guard let client = tls ? configuration.forwardTLSClient : configuration.forwardClient else {
            let missing = tls ? "no TLS client: set api_cert_file, api_key_file and api_ca_file" : "no forwarding client"
            throw .badGateway("this fleetd cannot forward requests (\(missing)); ask machine \(machineID) at \(url)")
        }
        let uri = "/fleet/v1/units/\(URLEncoding.percentEncode(name))/\(kind.rawValue)?"
            + parameters.query(machineID: machineID)
        let headers: HTTPHeaders = [Self.forwardedHeader: configuration.localMachineID ?? "unknown"]
        let failure = { (error: any Error) -> APIServerError in
            .badGateway("forwarding the \(kind.rawValue) request of unit \(name) to machine \(machineID) at \(url) failed: \(error)")
        }
        let timeout = configuration.forwardTimeout
        if kind == .journal && parameters.follow {
            let head: HTTPResponseHead
            let body: AsyncThrowingStream<ByteBuffer, any Error>
            do {
                (head, body) = try await withDeadline(seconds: timeout) {
                    try await client.stream(.GET, endpoint, uri, headers: headers, connectTimeout: timeout)
                }
            } catch {
                throw failure(error)
            }
            return HTTPResponse(
                status: head.status, headers: relayed(head.headers),
                body: .stream { writer in
                    for try await chunk in body { try await writer.write(chunk) }
                })
        }
        do {
            let answer = try await client.execute(.GET, endpoint, uri, headers: headers, timeout: timeout)
            return HTTPResponse(status: answer.status, headers: relayed(answer.headers), body: .bytes(answer.body))
        } catch {
            throw failure(error)
        }
    }

    /// The headers worth passing back: the content type (and the hop's own loop marker is not sent).
    private func relayed(_ headers: HTTPHeaders) -> HTTPHeaders {
        var out = HTTPHeaders()
        if let type = headers.first(name: "Content-Type") { out.add(name: "Content-Type", value: type) }
        return out
    }
}
