import NIOSSL

extension KVConfig {
    /// The TLS context of the `https://` client listeners, from etcd's `--cert-file`, `--key-file`
    /// and, with `--client-cert-auth`, `--trusted-ca-file` (clients must then present a certificate
    /// it signed). Nil when no client URL is https. Peer TLS (`https://` peer URLs) and
    /// `--auto-tls` are refused with an error rather than served in clear text.
    public func clientServerTLS() throws(KVConfigTLSError) -> NIOSSLContext? {
        if let url = (listenPeerURLs + initialAdvertisePeerURLs).first(where: { $0.scheme == "https" }) {
            throw .peerTLSUnsupported(url.description)
        }
        guard listenClientURLs.contains(where: { $0.scheme == "https" }) else { return nil }
        if clientTLS.autoTLS && clientTLS.certFile.isEmpty { throw .autoTLSUnsupported }
        let files = TLSFiles(caFile: clientTLS.clientCertAuth ? clientTLS.trustedCAFile : "",
                             certFile: clientTLS.certFile, keyFile: clientTLS.keyFile)
        if clientTLS.clientCertAuth && clientTLS.trustedCAFile.isEmpty { throw .clientCertAuthWithoutCA }
        do { return try files.serverContext() } catch { throw .files(error) }
    }
}

/// Why a member or proxy cannot serve TLS as configured; each names the flag to fix.
public enum KVConfigTLSError: Error, Equatable, CustomStringConvertible {
    case peerTLSUnsupported(String)
    case autoTLSUnsupported
    case clientCertAuthWithoutCA
    case files(TLSFilesError)

    public var description: String {
        switch self {
        case .peerTLSUnsupported(let url):
            return "peer URL \(url): TLS between members is not supported; use http:// peer URLs on a private network"
        case .autoTLSUnsupported: return "--auto-tls is not supported; give --cert-file and --key-file"
        case .clientCertAuthWithoutCA: return "--client-cert-auth needs --trusted-ca-file"
        case .files(let error): return "https client URLs (--cert-file, --key-file, --trusted-ca-file): \(error)"
        }
    }
}
