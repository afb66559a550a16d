#if canImport(Glibc)
import Glibc
#endif

/// A real etcd 3.4 member (apt etcd-server) serving the v2 API on loopback, for side-by-side tests.
public final class RealEtcd: @unchecked Sendable {
    public let clientURL: String
    public let process: BackgroundProcess
    private let dataDir: String

    /// Starts a 1-member cluster on free ports and waits until it answers. With `tls` the client
    /// URL is https with the test server certificate, and clients must present a certificate of the
    /// test CA (`--client-cert-auth`).
    public init(tls: TestCertificates? = nil) throws {
        let clientPort = freeLoopbackPort()
        let peerPort = freeLoopbackPort()
        var template = Array("/tmp/fleet-swift-etcd-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw ChildProcessError(description: "mkdtemp failed") }
        dataDir = String(cString: dir)
        clientURL = "\(tls == nil ? "http" : "https")://127.0.0.1:\(clientPort)"
        let peerURL = "http://127.0.0.1:\(peerPort)"
        guard ChildProcess.which("etcd") != nil else {
            throw ChildProcessError(description: "etcd is not installed: run scripts/install-deps (apt etcd-server)")
        }
        var tlsFlags: [String] = []
        var curlTLS: [String] = []
        if let tls {
            tlsFlags = ["--cert-file", tls.serverCert, "--key-file", tls.serverKey, "--trusted-ca-file", tls.caFile,
                        "--client-cert-auth"]
            curlTLS = ["--cacert", tls.caFile, "--cert", tls.clientCert, "--key", tls.clientKey]
        }
        process = try BackgroundProcess(["etcd"] + tlsFlags + [
            "--enable-v2=true", "--name", "m1", "--data-dir", dataDir + "/data",
            "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
            "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", "m1=\(peerURL)", "--log-level", "error",
        ], logPath: dataDir + "/etcd.log")
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if let r = try? ChildProcess.run(["curl", "-sf", "-m", "1"] + curlTLS + [clientURL + "/v2/keys/"]), r.succeeded { return }
            guard process.isRunning else { break }
            usleep(100_000)
        }
        throw ChildProcessError(description: "etcd did not start: \(process.log().suffix(2000))")
    }

    deinit {
        process.kill()
        _ = try? ChildProcess.run(["rm", "-rf", dataDir])
    }
}

extension ChildProcess {
    /// The path of an executable found through PATH, or nil.
    public static func which(_ name: String) -> String? {
        let path = String(cString: getenv("PATH") ?? strdup("/usr/bin:/bin"))
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
