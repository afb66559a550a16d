#if canImport(Glibc)
import Glibc
#endif

/// A throw-away PKI made with the openssl command for TLS tests: a CA, a server certificate for
/// 127.0.0.1 / localhost and a client certificate signed by it, plus a second, untrusted CA with its
/// own server certificate. Nothing is committed; every run makes fresh keys in a temporary folder.
public final class TestCertificates: @unchecked Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var serverCert: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCert: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }
    /// A CA that signed nothing the other files trust.
    public var otherCAFile: String { directory + "/other-ca.pem" }
    /// A server certificate for 127.0.0.1 signed by the other CA.
    public var otherServerCert: String { directory + "/other-server.pem" }
    public var otherServerKey: String { directory + "/other-server.key" }

    public init() throws {
        guard ChildProcess.which("openssl") != nil else {
            throw ChildProcessError(description: "openssl is not installed: run scripts/install-deps")
        }
        var template = Array("/tmp/fleet-swift-pki-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw ChildProcessError(description: "mkdtemp failed") }
        directory = String(cString: dir)
        try write(directory + "/server.ext",
                  "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
        try write(directory + "/client.ext", "extendedKeyUsage=clientAuth\n")
        try makeCA("ca")
        try makeCA("other-ca")
        try makeCertificate("server", commonName: "localhost", ca: "ca", extensions: "server.ext")
        try makeCertificate("client", commonName: "fleetctl", ca: "ca", extensions: "client.ext")
        try makeCertificate("other-server", commonName: "localhost", ca: "other-ca", extensions: "server.ext")
    }

    deinit { _ = try? ChildProcess.run(["rm", "-rf", directory]) }

    private func makeCA(_ name: String) throws {
        try ChildProcess.check([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem", "-days", "2",
            "-subj", "/CN=fleet-swift test \(name)",
        ])
    }

    private func makeCertificate(_ name: String, commonName: String, ca: String, extensions: String) throws {
        let d = directory
        try ChildProcess.check([
            "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).csr", "-subj", "/CN=\(commonName)",
        ])
        try ChildProcess.check([
            "openssl", "x509", "-req", "-in", "\(d)/\(name).csr", "-CA", "\(d)/\(ca).pem", "-CAkey", "\(d)/\(ca).key",
            "-CAcreateserial", "-out", "\(d)/\(name).pem", "-days", "2", "-extfile", "\(d)/\(extensions)",
        ])
    }

    private func write(_ path: String, _ text: String) throws {
        guard let file = fopen(path, "w") else { throw ChildProcessError(description: "cannot write \(path)") }
        fputs(text, file)
        fclose(file)
    }
}
