#if canImport(Glibc)
import Glibc
#endif
import NIOSSL

/// PEM files for one side of a TLS connection, as fleet, fleetctl and etcd take them: a CA bundle to
/// trust, and a certificate (chain) with its private key to present.
///
/// Files are read when a context is made, so a missing or malformed file is reported once, at
/// start-up, naming the file, instead of failing every connection later.
public struct TLSFiles: Sendable, Equatable {
    /// CA certificates to trust (PEM). Empty: the system's trust store (clients) or no client
    /// certificate check (servers).
    public var caFile: String
    /// The certificate chain to present (PEM).
    public var certFile: String
    /// The private key of `certFile` (PEM).
    public var keyFile: String

    public init(caFile: String = "", certFile: String = "", keyFile: String = "") {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }

    /// True when no file is named.
    public var isEmpty: Bool { caFile.isEmpty && certFile.isEmpty && keyFile.isEmpty }

    /// A context for connecting to TLS servers: their certificate must chain to `caFile` (or the
    /// system roots) and name the host or IP address dialled; the certificate is presented when
    /// the server asks for one.
    public func clientContext() throws(TLSFilesError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if !caFile.isEmpty { configuration.trustRoots = .certificates(try certificates(caFile, role: "CA file")) }
        if let (chain, key) = try identity() {
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
        return try context(configuration)
    }

    /// A context for serving TLS: presents `certFile`/`keyFile` (both required); with a `caFile`,
    /// clients must present a certificate signed by it (mutual TLS, etcd's --client-cert-auth).
    public func serverContext() throws(TLSFilesError) -> NIOSSLContext {
        guard let (chain, key) = try identity() else { throw .serverNeedsCertificate }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if !caFile.isEmpty {
            configuration.trustRoots = .certificates(try certificates(caFile, role: "CA file"))
            configuration.certificateVerification = .noHostnameVerification
        }
        return try context(configuration)
    }

    private func identity() throws(TLSFilesError) -> ([NIOSSLCertificate], NIOSSLPrivateKey)? {
        switch (certFile.isEmpty, keyFile.isEmpty) {
        case (true, true): return nil
        case (false, true): throw .certificateWithoutKey(certFile)
        case (true, false): throw .keyWithoutCertificate(keyFile)
        case (false, false):
            let chain = try certificates(certFile, role: "certificate file")
            try Self.checkReadable(keyFile, role: "key file")
            do {
                return (chain, try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw .unreadable(role: "key file", path: keyFile, reason: Self.reason(error))
            }
        }
    }

    private func certificates(_ path: String, role: String) throws(TLSFilesError) -> [NIOSSLCertificate] {
        try Self.checkReadable(path, role: role)
        let loaded: [NIOSSLCertificate]
        do { loaded = try NIOSSLCertificate.fromPEMFile(path) } catch {
            throw .unreadable(role: role, path: path, reason: Self.reason(error))
        }
        guard !loaded.isEmpty else { throw .unreadable(role: role, path: path, reason: "no PEM certificate in it") }
        return loaded
    }

    private func context(_ configuration: TLSConfiguration) throws(TLSFilesError) -> NIOSSLContext {
        do { return try NIOSSLContext(configuration: configuration) } catch {
            throw .invalid(Self.reason(error))
        }
    }

    /// BoringSSL says only "failedToLoadCertificate" for a missing file: say what is wrong first.
    static func checkReadable(_ path: String, role: String) throws(TLSFilesError) {
        guard let file = fopen(path, "r") else {
            let code = errno
            throw .unreadable(role: role, path: path, reason: code == ENOENT ? "no such file" : String(cString: strerror(code)))
        }
        fclose(file)
    }

    static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("failedToLoadCertificate") { return "not a PEM certificate" }
        if text.contains("failedToLoadPrivateKey") { return "not a PEM private key" }
        return text
    }
}

/// Why TLS files could not be used; each names the file and what to do.
public enum TLSFilesError: Error, Equatable, CustomStringConvertible {
    case unreadable(role: String, path: String, reason: String)
    case certificateWithoutKey(String)
    case keyWithoutCertificate(String)
    case serverNeedsCertificate
    case invalid(String)

    public var description: String {
        switch self {
        case .unreadable(let role, let path, let reason): return "cannot use TLS \(role) \(path): \(reason)"
        case .certificateWithoutKey(let path): return "TLS certificate file \(path) given without its key file"
        case .keyWithoutCertificate(let path): return "TLS key file \(path) given without its certificate file"
        case .serverNeedsCertificate: return "serving TLS needs a certificate file and a key file"
        case .invalid(let reason): return "invalid TLS settings: \(reason)"
        }
    }
}
