import NIOCore
import Testing
import TestSupport
@testable import KV

/// TLS on the HTTP server and client: certificates checked both ways, mutual TLS, and clear errors
/// for unusable files. Certificates are made fresh by `TestCertificates` (openssl).
@Suite struct TLSTests {
    /// Serves `EchoResponder` over https on a free loopback port.
    func withTLSServer(_ files: TLSFiles, _ body: (HTTPEndpoint) async throws -> Void) async throws {
        let server = try await HTTPServer.start(
            address: .https(host: "127.0.0.1", port: 0), responder: EchoResponder(), tls: try files.serverContext())
        guard case .https(let host, let port) = server.boundAddress else {
            await server.shutdown()
            Issue.record("an https listener reports \(server.boundAddress)")
            return
        }
        #expect(server.boundAddress.description == "https://127.0.0.1:\(port)")
        do { try await body(.tcp(host: host, port: port)) } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func requestsAndStreamsOverTLS() async throws {
        let pki = try TestCertificates()
        try await withTLSServer(TLSFiles(certFile: pki.serverCert, keyFile: pki.serverKey)) { endpoint in
            let client = HTTPClient(tls: try TLSFiles(caFile: pki.caFile).clientContext())
            defer { client.shutdown() }
            #expect(client.usesTLS)
            for i in 0..<5 {  // kept-alive TLS connections are reused
                let answer = try await client.execute(.GET, endpoint, "/x?i=\(i)")
                #expect(answer.bodyString == "GET /x i=\(i)")
            }
            let (head, stream) = try await client.stream(.GET, endpoint, "/stream")
            #expect(head.status == .ok)
            var text = ""
            for try await chunk in stream { text += String(buffer: chunk) }
            #expect(text == "chunk0\nchunk1\nchunk2\n")
        }
    }

    @Test func untrustedServerIsRefused() async throws {
        let pki = try TestCertificates()
        try await withTLSServer(TLSFiles(certFile: pki.otherServerCert, keyFile: pki.otherServerKey)) { endpoint in
            for trust in [TLSFiles(caFile: pki.caFile), TLSFiles()] {  // our CA, then the system roots
                let client = HTTPClient(tls: try trust.clientContext())
                defer { client.shutdown() }
                await #expect {
                    _ = try await client.execute(.GET, endpoint, "/x", timeout: 5)
                } throws: { error in
                    guard case HTTPClientError.tlsFailed(let e, let reason) = error else { return false }
                    return e == endpoint && !reason.isEmpty
                }
            }
        }
    }

    @Test func plainClientGetsNoAnswerFromTLSServer() async throws {
        let pki = try TestCertificates()
        try await withTLSServer(TLSFiles(certFile: pki.serverCert, keyFile: pki.serverKey)) { endpoint in
            let client = HTTPClient()
            defer { client.shutdown() }
            await #expect(throws: (any Error).self) { _ = try await client.execute(.GET, endpoint, "/x", timeout: 5) }
        }
    }

    @Test func mutualTLSNeedsAClientCertificateOfTheCA() async throws {
        let pki = try TestCertificates()
        let serverFiles = TLSFiles(caFile: pki.caFile, certFile: pki.serverCert, keyFile: pki.serverKey)
        try await withTLSServer(serverFiles) { endpoint in
            let anonymous = HTTPClient(tls: try TLSFiles(caFile: pki.caFile).clientContext())
            defer { anonymous.shutdown() }
            await #expect(throws: (any Error).self) { _ = try await anonymous.execute(.GET, endpoint, "/x", timeout: 5) }

            let foreign = HTTPClient(tls: try TLSFiles(
                caFile: pki.caFile, certFile: pki.otherServerCert, keyFile: pki.otherServerKey).clientContext())
            defer { foreign.shutdown() }
            await #expect(throws: (any Error).self) { _ = try await foreign.execute(.GET, endpoint, "/x", timeout: 5) }

            let member = HTTPClient(tls: try TLSFiles(
                caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey).clientContext())
            defer { member.shutdown() }
            #expect(try await member.execute(.GET, endpoint, "/ok").bodyString == "GET /ok ")
        }
    }

    @Test func unusableFilesAreNamed() throws {
        let pki = try TestCertificates()
        #expect(throws: TLSFilesError.unreadable(role: "CA file", path: "/nonexistent/ca.pem", reason: "no such file")) {
            _ = try TLSFiles(caFile: "/nonexistent/ca.pem").clientContext()
        }
        #expect(throws: TLSFilesError.certificateWithoutKey(pki.clientCert)) {
            _ = try TLSFiles(certFile: pki.clientCert).clientContext()
        }
        #expect(throws: TLSFilesError.keyWithoutCertificate(pki.clientKey)) {
            _ = try TLSFiles(keyFile: pki.clientKey).clientContext()
        }
        #expect(throws: TLSFilesError.serverNeedsCertificate) { _ = try TLSFiles(caFile: pki.caFile).serverContext() }
        // A key file given as the certificate: not a PEM certificate.
        do throws(TLSFilesError) {
            _ = try TLSFiles(certFile: pki.clientKey, keyFile: pki.clientKey).serverContext()
            Issue.record("a key accepted as a certificate")
        } catch {
            #expect(error.description.contains(pki.clientKey))
            #expect(error.description.contains("certificate file"))
        }
        // A certificate with the key of another one.
        #expect(throws: TLSFilesError.self) {
            _ = try TLSFiles(certFile: pki.serverCert, keyFile: pki.clientKey).serverContext()
        }
    }

    @Test func httpsListenerWithoutContextIsRefused() async throws {
        await #expect(throws: HTTPServerError.self) {
            _ = try await HTTPServer.start(address: .https(host: "127.0.0.1", port: 0), responder: EchoResponder())
        }
    }

    @Test func parsingTLSURLs() {
        #expect(HTTPEndpoint.parse(url: "https://10.0.0.1:4001")! == (.tcp(host: "10.0.0.1", port: 4001), true))
        #expect(HTTPEndpoint.parse(url: "https://example.com/fleet")! == (.tcp(host: "example.com", port: 443), true))
        #expect(HTTPEndpoint.parse(url: "https://[::1]:8443")! == (.tcp(host: "::1", port: 8443), true))
        #expect(HTTPEndpoint.parse(url: "https://[::1]")! == (.tcp(host: "::1", port: 443), true))
        #expect(HTTPEndpoint.parse(url: "http://h:1")! == (.tcp(host: "h", port: 1), false))
        #expect(HTTPEndpoint.parse(url: "unix:///run/x.sock")! == (.unix(path: "/run/x.sock"), false))
        #expect(HTTPEndpoint.parse(url: "https://") == nil)
        #expect(HTTPEndpoint.parse(url: "https://h:notaport") == nil)
        #expect(HTTPEndpoint(url: "https://h:1") == nil)  // a plain client never dials an https URL
    }
}
