import Foundation
import KV
import Testing
import TestSupport
@testable import Fleet

/// The fleet API over TLS: FleetAPIClient and the fleetctl binary against an https listener with
/// mutual TLS, status forwarding to a machine advertising an https API, and fleetd's TLS settings.
@Suite struct FleetAPITLSTests {
    /// A fleet API (machine m1 present) on an https loopback port requiring client certificates of
    /// the test CA; `body` gets its URL.
    func withTLSAPI(_ pki: TestCertificates, _ body: (String, Registry) async throws -> Void) async throws {
        let (registry, _) = APITest.registry()
        try await registry.createMachine(MachineState(id: "m1", publicIP: "10.0.0.1"), ttl: 60)
        let files = TLSFiles(caFile: pki.caFile, certFile: pki.serverCert, keyFile: pki.serverKey)
        let server = try await HTTPServer.start(
            address: .https(host: "127.0.0.1", port: 0), responder: APITest.responder(registry, machineID: "m1"),
            tls: try files.serverContext())
        defer { Task { await server.shutdown() } }
        guard case .https(_, let port) = server.boundAddress else {
            Issue.record("no https port")
            return
        }
        try await body("https://127.0.0.1:\(port)", registry)
    }

    @Test func clientOverMutualTLS() async throws {
        let pki = try TestCertificates()
        try await withTLSAPI(pki) { url, _ in
            let member = TLSFiles(caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey)
            let client = try FleetAPIClient(endpoints: [url], requestTimeout: 5, tls: member)
            #expect(try await client.machines().map(\.id) == ["m1"])
            try await client.createUnit(APIUnit(name: "a.service", options: FleetAPIClientTests.options, desiredState: "loaded"))
            #expect(try await client.unit("a.service")?.desiredState == "loaded")

            // No client certificate: refused in the handshake, reported as such.
            let anonymous = try FleetAPIClient(endpoints: [url], requestTimeout: 5, tls: TLSFiles(caFile: pki.caFile))
            await #expect {
                _ = try await anonymous.machines()
            } throws: { error in
                guard case FleetAPIError.unreachable(let endpoint, let reason) = error else { return false }
                // Refused in the handshake (TLS 1.2 style) or, with TLS 1.3, by closing right after it.
                return endpoint == url
                    && (reason.contains("TLS handshake failed") || reason.contains("does it require a client certificate"))
            }
            // Not trusting the server's CA (system roots only): refused too.
            let untrusting = try FleetAPIClient(endpoints: [url], requestTimeout: 5,
                                                tls: TLSFiles(certFile: pki.clientCert, keyFile: pki.clientKey))
            await #expect(throws: FleetAPIError.self) { _ = try await untrusting.machines() }
            // A TLS failure moves on to the next endpoint like a refused connection.
            let plainFirst = try FleetAPIClient(
                endpoints: ["http://127.0.0.1:\(freeLoopbackPort())", url], requestTimeout: 5, tls: member)
            #expect(try await plainFirst.machines().map(\.id) == ["m1"])
        }
    }

    @Test func unusableClientFilesAreNamed() {
        #expect {
            _ = try FleetAPIClient(endpoints: ["https://127.0.0.1:1"], tls: TLSFiles(caFile: "/nonexistent/ca.pem"))
        } throws: { error in
            "\(error)".contains("/nonexistent/ca.pem")
        }
        // Files are only read when an https endpoint needs them.
        #expect(throws: Never.self) {
            _ = try FleetAPIClient(endpoints: ["unix:///x.sock"], tls: TLSFiles(caFile: "/nonexistent/ca.pem"))
        }
    }

    @Test func fleetctlBinaryOverTLS() async throws {
        let binary = FleetctlBinaryTests.binary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build fleetctl first")
        let pki = try TestCertificates()
        try await withTLSAPI(pki) { url, _ in
            let run = { (args: [String], env: [String: String]) async throws -> ProcessResult in
                try await withCheckedThrowingContinuation { continuation in
                    Thread {
                        continuation.resume(with: Result {
                            try ChildProcess.run([binary] + args, environment: env.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a })
                        })
                    }.start()
                }
            }
            let flags = ["--endpoint", url, "--ca-file", pki.caFile, "--cert-file", pki.clientCert, "--key-file", pki.clientKey]
            var r = try await run(["list-machines"] + flags, [:])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "MACHINE\tIP\t\tMETADATA\nm1\t10.0.0.1\t-\n", "\(r)")

            // The same through FLEETCTL_* variables.
            r = try await run(["list-machines", "--no-legend"], [
                "FLEETCTL_ENDPOINT": url, "FLEETCTL_CA_FILE": pki.caFile,
                "FLEETCTL_CERT_FILE": pki.clientCert, "FLEETCTL_KEY_FILE": pki.clientKey,
            ])
            #expect(r.stdout == "m1\t10.0.0.1\t-\n", "\(r)")

            // Without the client certificate: one line naming the endpoint and the TLS failure, exit 3
            // (the API could not be reached).
            r = try await run(["list-machines", "--endpoint", url, "--ca-file", pki.caFile], [:])
            #expect(r.status == 3, "\(r)")
            #expect(r.stderr.contains("cannot reach fleet API at \(url): TLS handshake failed")
                    || r.stderr.contains("does it require a client certificate"), "\(r)")

            // A missing file is named; a usage error.
            r = try await run(["list-machines", "--endpoint", url, "--ca-file", "/nonexistent/ca.pem"], [:])
            #expect(r.status == 2, "\(r)")
            #expect(r.stderr.contains("/nonexistent/ca.pem"), "\(r)")

            // fleet's deprecated etcd TLS flags point at the new ones.
            r = try await run(["list-machines", "--etcd-cafile", pki.caFile], [:])
            #expect(r.status == 2, "\(r)")
            #expect(r.stderr.contains("--etcd-cafile") && r.stderr.contains("--ca-file"), "\(r)")
        }
    }

    @Test func statusIsForwardedToAMachineServingHTTPS() async throws {
        let pki = try TestCertificates()
        let registry = try await FleetAPIInspectTests.cluster(target: "m2", machines: [])
        let serving = TLSFiles(caFile: pki.caFile, certFile: pki.serverCert, keyFile: pki.serverKey)
        let server2 = try await HTTPServer.start(
            address: .https(host: "127.0.0.1", port: 0),
            responder: APITest.responder(registry, machineID: "m2", inspector: FakeInspector(machine: "m2")),
            tls: try serving.serverContext())
        // m1 forwards with its own certificate (the daemon uses its API certificate for this).
        let tlsClient = HTTPClient(tls: try serving.clientContext())
        let plain = HTTPClient()
        defer { tlsClient.shutdown(); plain.shutdown() }
        let m1 = APITest.responder(registry, machineID: "m1", inspector: FakeInspector(machine: "m1"),
                                   forwardClient: plain, forwardTLSClient: tlsClient)
        let m1WithoutTLS = APITest.responder(registry, machineID: "m1", inspector: FakeInspector(machine: "m1"),
                                             forwardClient: plain)
        defer { Task { await server2.shutdown() } }
        guard case .https(_, let port2) = server2.boundAddress else {
            Issue.record("no https port")
            return
        }
        try await registry.createMachine(MachineState(id: "m2", apiURL: "https://127.0.0.1:\(port2)"), ttl: 60)
        var answer = try await APITest.call(m1, .GET, FleetAPIInspectTests.path + "/status")
        #expect(answer.status == 200, "\(answer.body)")
        #expect(answer.body == "● hello.service on m2\n     Active: active (running)\n")

        answer = try await APITest.call(m1WithoutTLS, .GET, FleetAPIInspectTests.path + "/status")
        #expect(answer.status == 502)
        #expect(answer.body.contains("no TLS client: set api_cert_file, api_key_file and api_ca_file"), "\(answer.body)")
    }

    @Test func daemonTLSSettings() throws {
        let pki = try TestCertificates()
        var config = FleetConfig()
        config.apiListen = ["unix:///run/f.sock", "https://0.0.0.0:49154"]
        let listeners = try FleetDaemon.apiListeners(config: config, activation: SocketActivation(sockets: []))
        #expect(listeners == [.unix(path: "/run/f.sock"), .https(host: "0.0.0.0", port: 49154)])
        #expect(FleetDaemon.advertisedAPIURL(config: config, machine: MachineState(id: "m", publicIP: "10.0.0.7"),
                                             listeners: listeners) == "https://10.0.0.7:49154")
        // An https listener without a certificate: fleetd refuses to start, naming the options.
        #expect {
            _ = try FleetDaemon.apiServerTLS(config: config, listeners: listeners)
        } throws: { error in
            "\(error)".contains("api_cert_file") && "\(error)".contains("certificate file and a key file")
        }
        config.apiCertFile = pki.serverCert
        config.apiKeyFile = pki.serverKey
        #expect(try FleetDaemon.apiServerTLS(config: config, listeners: listeners) != nil)
        #expect(try FleetDaemon.apiServerTLS(config: config, listeners: [.unix(path: "/x")]) == nil)
        #expect(try FleetDaemon.apiForwardTLSClient(config: config)?.usesTLS == true)
        #expect(try FleetDaemon.apiForwardTLSClient(config: FleetConfig()) == nil)

        // The options parse from flags (and so from FLEET_* and cloud-config).
        let parsed = try FleetConfig.startup(arguments: [
            "--api-listen=https://0.0.0.0:49154", "--api-cert-file=/c.pem", "--api-key-file=/k.pem", "--api-ca-file=/ca.pem",
            "--api-advertise-url=https://10.0.0.1:49154",
        ], environment: [:])
        guard case .run(let c, _) = parsed else {
            Issue.record("not a run: \(parsed)")
            return
        }
        #expect(c.apiListen == ["https://0.0.0.0:49154"])
        #expect([c.apiCertFile, c.apiKeyFile, c.apiCAFile] == ["/c.pem", "/k.pem", "/ca.pem"])
        #expect(c.apiAdvertiseURL == "https://10.0.0.1:49154")
        #expect(throws: FleetConfigFailure.self) {
            _ = try FleetConfig.startup(arguments: ["--api-listen=ftp://x:1"], environment: [:])
        }
    }
}
