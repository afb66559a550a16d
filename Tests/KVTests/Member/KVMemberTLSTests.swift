#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
import TestSupport
@testable import KV

/// A member serving https client URLs as etcd does (--cert-file, --key-file, --client-cert-auth,
/// --trusted-ca-file), used by Debian's etcdctl; and the TLS settings it refuses.
@Suite struct KVMemberTLSTests {
    func config(_ root: String, client: String, peer: String = "http") -> KVConfig {
        let clientPort = freeLoopbackPort(), peerPort = freeLoopbackPort()
        var c = KVConfig()
        c.name = "m1"
        c.dataDir = root + "/m1"
        c.listenClientURLs = [KVURL(scheme: client, host: "127.0.0.1", port: clientPort)]
        c.advertiseClientURLs = c.listenClientURLs
        c.listenPeerURLs = [KVURL(scheme: peer, host: "127.0.0.1", port: peerPort)]
        c.initialAdvertisePeerURLs = c.listenPeerURLs
        c.initialCluster = KVInitialCluster(members: [.init(name: "m1", peerURLs: c.listenPeerURLs)])
        c.heartbeatInterval = 50
        c.electionTimeout = 500
        return c
    }

    func temporaryRoot() -> String {
        var template = Array("/tmp/fleet-swift-kvtls-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template)!)
    }

    @Test func etcdctlOverMutualTLS() async throws {
        let pki = try TestCertificates()
        let root = temporaryRoot()
        defer { _ = try? ChildProcess.run(["rm", "-rf", root]) }
        var c = config(root, client: "https")
        c.clientTLS.certFile = pki.serverCert
        c.clientTLS.keyFile = pki.serverKey
        c.clientTLS.trustedCAFile = pki.caFile
        c.clientTLS.clientCertAuth = true
        let running = try await KVMember.start(config: c, logger: Logger(label: "tls"))
        let url = c.listenClientURLs[0].description
        #expect(url.hasPrefix("https://"))
        let etcdctl = { (args: [String]) throws -> ProcessResult in
            try ChildProcess.run(
                ["etcdctl", "--endpoints", url, "--ca-file", pki.caFile, "--cert-file", pki.clientCert,
                 "--key-file", pki.clientKey] + args,
                environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
        }
        var ok = false
        for _ in 0..<100 where !ok {  // until the single member has elected itself
            ok = (try? etcdctl(["set", "/tls", "works"]))?.succeeded ?? false
            if !ok { usleep(100_000) }
        }
        #expect(ok)
        let got = try etcdctl(["get", "/tls"])
        #expect(got.succeeded && got.stdout == "works\n", "\(got)")
        // Without a client certificate the handshake is refused.
        let anonymous = try ChildProcess.run(
            ["etcdctl", "--endpoints", url, "--ca-file", pki.caFile, "get", "/tls"],
            environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
        #expect(!anonymous.succeeded, "\(anonymous)")
        await running.shutdown()
    }

    @Test func refusedTLSSettingsAreNamed() async throws {
        let root = temporaryRoot()
        defer { _ = try? ChildProcess.run(["rm", "-rf", root]) }
        // https client URLs without a certificate.
        let noCert = config(root, client: "https")
        #expect(throws: KVConfigTLSError.files(.serverNeedsCertificate)) { _ = try noCert.clientServerTLS() }
        do {
            _ = try await KVMember.start(config: noCert, logger: Logger(label: "tls"))
            Issue.record("a member served https without a certificate")
        } catch {
            #expect("\(error)".contains("--cert-file"), "\(error)")
        }
        // https peer URLs: refused, never served in clear text.
        let peer = config(root + "/p", client: "http", peer: "https")
        #expect(throws: KVConfigTLSError.peerTLSUnsupported(peer.listenPeerURLs[0].description)) {
            _ = try peer.clientServerTLS()
        }
        var auth = config(root, client: "https")
        auth.clientTLS.clientCertAuth = true
        #expect(throws: KVConfigTLSError.clientCertAuthWithoutCA) { _ = try auth.clientServerTLS() }
        var auto = config(root, client: "https")
        auto.clientTLS.autoTLS = true
        #expect(throws: KVConfigTLSError.autoTLSUnsupported) { _ = try auto.clientServerTLS() }
        // Plain URLs need nothing.
        #expect(try config(root, client: "http").clientServerTLS() == nil)
    }
}
