import Foundation
import KV
import Testing
@testable import Fleet

private let vagrantAddresses = HostAddresses(publicIPv4: "203.0.113.29", privateIPv4: "192.0.2.13")

/// Plans like coreos-cloudinit (etcd2.service / fleet.service), to compare with its observed output.
private func plan(_ text: String, _ addresses: HostAddresses = vagrantAddresses, units: SectionUnits = .coreOS) throws -> BootPlan {
    try BootPlan.make(for: UserData(text: text), addresses: addresses, units: units)
}

private func dropIn(_ plan: BootPlan, _ path: String) -> String? {
    for action in plan.actions {
        if case .writeDropIn(_, path, let content) = action { return content }
    }
    return nil
}

@Suite struct ReferenceExampleTests {
    @Test(arguments: [ReferenceUserData.vagrantSample, ReferenceUserData.fleetFunctional,
                      ReferenceUserData.fleetdCustomUnit, ReferenceUserData.docSnippets])
    func realUserDataHasNoErrors(_ text: String) throws {
        let report = CloudConfig.validate(text: text)
        #expect(report.errors.isEmpty, "\(report.text)")
        #expect(report.diagnostics.isEmpty, "\(report.text)")
        _ = try plan(text)
    }

    @Test func vagrantSampleDropInsMatchObservedOutput() throws {
        let p = try plan(ReferenceUserData.vagrantSample)
        #expect(dropIn(p, "/run/systemd/system/etcd2.service.d/20-cloudinit.conf") == """
            [Service]
            Environment="ETCD_ADVERTISE_CLIENT_URLS=http://203.0.113.29:2379"
            Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://192.0.2.13:2380"
            Environment="ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379,http://0.0.0.0:4001"
            Environment="ETCD_LISTEN_PEER_URLS=http://192.0.2.13:2380,http://192.0.2.13:7001"

            """)
        #expect(dropIn(p, "/run/systemd/system/fleet.service.d/20-cloudinit.conf") == """
            [Service]
            Environment="FLEET_PUBLIC_IP=203.0.113.29"

            """)
        #expect(p.actions.contains(.updateEnvironmentFile(path: "/run/flannel/options.env",
                                                          values: [EnvironmentEntry(name: "FLANNELD_IFACE", value: "203.0.113.29")],
                                                          template: nil)))
        #expect(p.actions.contains(.updateEnvironmentFile(path: "/etc/environment", values: [
            EnvironmentEntry(name: "COREOS_PRIVATE_IPV4", value: "192.0.2.13"),
            EnvironmentEntry(name: "COREOS_PUBLIC_IPV4", value: "203.0.113.29"),
        ], template: nil)))
        #expect(dropIn(p, "/etc/systemd/system/flanneld.service.d/50-network-config.conf")?.hasPrefix("[Service]\nExecStartPre=") == true)
        guard case .member(let kv) = p.role else { Issue.record("expected a member"); return }
        #expect(kv.advertiseClientURLs.commaSeparated == "http://203.0.113.29:2379")
        #expect(kv.listenPeerURLs.count == 2)
    }

    @Test func vagrantSampleActionOrder() throws {
        let p = try plan(ReferenceUserData.vagrantSample)
        let descriptions = p.actions.map(\.description)
        #expect(descriptions == [
            "update /run/flannel/options.env: FLANNELD_IFACE",
            "update /etc/environment: COREOS_PRIVATE_IPV4, COREOS_PUBLIC_IPV4",
            "write drop-in /run/systemd/system/etcd2.service.d/20-cloudinit.conf",
            "unmask etcd2.service if masked",
            "write drop-in /run/systemd/system/fleet.service.d/20-cloudinit.conf",
            "unmask fleet.service if masked",
            "write drop-in /etc/systemd/system/flanneld.service.d/50-network-config.conf",
            "write unit /etc/systemd/system/docker-tcp.socket",
            "enable docker-tcp.socket",
            "daemon-reload",
            "start etcd2.service",
            "start fleet.service",
            "start flanneld.service",
            "start docker-tcp.socket",
        ])
    }

    @Test func fleetdModeMergesSectionsAndAliasesUnits() throws {
        let p = try plan(ReferenceUserData.vagrantSample, units: .fleetd)
        #expect(dropIn(p, "/run/systemd/system/fleetd.service.d/20-cloudinit.conf") == """
            [Service]
            Environment="ETCD_ADVERTISE_CLIENT_URLS=http://203.0.113.29:2379"
            Environment="ETCD_INITIAL_ADVERTISE_PEER_URLS=http://192.0.2.13:2380"
            Environment="ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379,http://0.0.0.0:4001"
            Environment="ETCD_LISTEN_PEER_URLS=http://192.0.2.13:2380,http://192.0.2.13:7001"
            Environment="FLEET_PUBLIC_IP=203.0.113.29"

            """)
        let commands = p.actions.compactMap { action -> String? in
            if case .unitCommand = action { return action.description }
            return nil
        }
        // etcd2.service and fleet.service both become one start of fleetd.service.
        #expect(commands == ["start fleetd.service", "start flanneld.service", "start docker-tcp.socket"])
        // A unit the user defines with content is never renamed.
        let own = try plan("#cloud-config\ncoreos:\n  units:\n    - name: fleet.service\n      content: |\n        [Service]\n        ExecStart=/bin/true\n      command: start\n", units: .fleetd)
        #expect(own.actions.last == .unitCommand(unit: "fleet.service", command: .start))
    }

    @Test func fleetSectionDropInMatchesObservedOutput() throws {
        let p = try plan("""
            #cloud-config
            coreos:
              fleet:
                verbosity: 1
                metadata: region=us-west,az=1
                etcd_servers: http://10.0.0.1:2379
                etcd-key-prefix: /my/fleet
                engine-reconcile-interval: 2.5
                agent-ttl: 60s
            """)
        #expect(dropIn(p, "/run/systemd/system/fleet.service.d/20-cloudinit.conf") == """
            [Service]
            Environment="FLEET_AGENT_TTL=60s"
            Environment="FLEET_ENGINE_RECONCILE_INTERVAL=2.5"
            Environment="FLEET_ETCD_KEY_PREFIX=/my/fleet"
            Environment="FLEET_ETCD_SERVERS=http://10.0.0.1:2379"
            Environment="FLEET_METADATA=region=us-west,az=1"
            Environment="FLEET_VERBOSITY=1"

            """)
        #expect(p.role == .worker)
        let fleet = FleetConfig.resolve(layers: [p.config!.fleetSettings]).config
        #expect(fleet.agentTTL == .seconds(60))
        #expect(fleet.metadata == ["region": "us-west", "az": "1"])
    }

    @Test func docSnippetsPlan() throws {
        let p = try plan(ReferenceUserData.docSnippets)
        let config = try #require(p.config)
        let gz = try #require(config.writeFiles.first(where: { $0.path == "/tmp/or_like_this" }))
        #expect(String(decoding: gz.content, as: UTF8.self) == "Pack my box with five dozen liquor jugs")
        #expect(gz.owner == "root")
        #expect(gz.permissions == 0o644)
        #expect(p.actions.contains(.maskUnit(unit: "systemd-timesyncd.service", path: "/etc/systemd/system/systemd-timesyncd.service")))
        #expect(p.actions.contains(.writeUnitFile(unit: "00-eth0.network", path: "/run/systemd/network/00-eth0.network",
                                                  content: "[Match]\nName=eth0\n\n[Network]\nDNS=1.2.3.4\nAddress=10.0.0.101/24\nGateway=10.0.0.1\n")))
        #expect(p.actions.contains(.writeEtcHosts))
        let descriptions = p.actions.map(\.description)
        // Network units first, networkd restarted after the reload, commands last in file order.
        #expect(descriptions.firstIndex(of: "write unit /run/systemd/network/00-eth0.network")!
            < descriptions.firstIndex(of: "write drop-in /etc/systemd/system/docker.service.d/50-insecure-registry.conf")!)
        #expect(Array(descriptions.suffix(5)) == ["daemon-reload", "restart systemd-networkd.service", "start etcd2.service",
                                                   "start fleet.service", "stop systemd-timesyncd.service"])
    }

    @Test func customFleetdUnitWritesFleetConf() throws {
        let p = try plan(ReferenceUserData.fleetdCustomUnit)
        let file = try #require(p.config?.writeFiles.first)
        #expect(file.path == "/etc/fleet/fleet.conf")
        let parsed = FleetConfig.configFileSettings(path: file.path, contents: String(decoding: file.content, as: UTF8.self))
        #expect(parsed.errors.isEmpty && parsed.warnings.isEmpty)
        #expect(FleetConfig.resolve(layers: [parsed.settings]).config.agentTTL == .seconds(3))
        #expect(p.actions.first == .writeFile(path: "/etc/fleet/fleet.conf", content: file.content, permissions: 0o644, owner: nil)
            || p.actions.first == .authorizeSSHKeys(user: "core", keyName: "coreos-cloudinit", keys: ["ssh-rsa AAAA..."]))
    }

    @Test func fullOrderHostnameUsersKeysFiles() throws {
        let p = try plan("""
            #cloud-config
            write_files:
              - path: /etc/motd
                content: hi
            ssh_authorized_keys: ["ssh-ed25519 AAAA core@x"]
            users:
              - name: ops
                groups: [wheel, docker]
                ssh-authorized-keys: ["ssh-ed25519 BBBB ops@x"]
            hostname: node7
            """)
        var ops = CloudConfig.User(name: "ops")
        ops.groups = ["wheel", "docker"]
        ops.sshAuthorizedKeys = ["ssh-ed25519 BBBB ops@x"]
        #expect(p.actions == [
            .setHostname("node7"),
            .ensureUser(ops),
            .authorizeSSHKeys(user: "core", keyName: "coreos-cloudinit", keys: ["ssh-ed25519 AAAA core@x"]),
            .writeFile(path: "/etc/motd", content: Array("hi".utf8), permissions: 0o644, owner: nil),
            .updateEnvironmentFile(path: "/etc/environment", values: [
                EnvironmentEntry(name: "COREOS_PRIVATE_IPV4", value: "192.0.2.13"),
                EnvironmentEntry(name: "COREOS_PUBLIC_IPV4", value: "203.0.113.29"),
            ], template: nil),
        ])
    }

    @Test func badFilePlansNothing() {
        #expect(throws: CloudConfigInvalid.self) { try plan(ReferenceUserData.badInput) }
        #expect(throws: CloudConfigInvalid.self) { try plan("not cloud config") }
    }

    @Test func scriptsRunAsTransientUnits() throws {
        let p = try plan("#!/bin/bash\necho $private_ipv4\n")
        #expect(p.actions == [
            .writeFile(path: BootPlan.scriptPath, content: Array("#!/bin/bash\necho 192.0.2.13\n".utf8), permissions: 0o700, owner: nil),
            .startTransientUnit(name: "coreos-cloudinit-user-data.service", execStart: ["/bin/bash", BootPlan.scriptPath]),
        ])
        #expect(try plan("").actions.isEmpty)
    }

    @Test func updateAndLocksmithSections() throws {
        let p = try plan("""
            #cloud-config
            coreos:
              update:
                reboot-strategy: off
                group: stable
              locksmith:
                window-start: Thu 04:00
                window-length: 1h
            """)
        #expect(dropIn(p, "/run/systemd/system/locksmithd.service.d/20-cloudinit.conf")
            == "[Service]\nEnvironment=\"REBOOT_WINDOW_START=Thu 04:00\"\nEnvironment=\"REBOOT_WINDOW_LENGTH=1h\"\n")
        #expect(p.actions.contains(.updateEnvironmentFile(path: "/etc/coreos/update.conf", values: [
            EnvironmentEntry(name: "REBOOT_STRATEGY", value: "off"), EnvironmentEntry(name: "GROUP", value: "stable"),
        ], template: "/usr/share/coreos/update.conf")))
        #expect(p.actions.contains(.maskUnit(unit: "locksmithd.service", path: "/run/systemd/system/locksmithd.service")))
        #expect(p.actions.suffix(2) == [.unitCommand(unit: "locksmithd.service", command: .stop),
                                        .unitCommand(unit: "update-engine.service", command: .restart)])
        #expect(CloudConfig.validate(text: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: 25:00\n").errors.count == 1)
    }
}

@Suite struct SubstitutionTests {
    @Test func replacesAndEscapes() {
        let out = AddressSubstitution.apply(to: "a=\\$public_ipv4 b=$public_ipv4 c=$private_ipv6 d=$other",
                                            addresses: HostAddresses(publicIPv4: "203.0.113.29", privateIPv6: "fd00::1"))
        #expect(out.text == "a=$public_ipv4 b=203.0.113.29 c=fd00::1 d=$other")
        #expect(out.missing.isEmpty)
    }

    @Test func environmentFallbackAndMissingValues() throws {
        let env = HostAddresses(environment: ["COREOS_PRIVATE_IPV4": "10.77.1.50", "COREOS_PUBLIC_IPV4": ""])
        #expect(env.privateIPv4 == "10.77.1.50")
        #expect(env.publicIPv4 == nil)
        let given = HostAddresses(publicIPv4: "1.2.3.4").merging(over: env)
        #expect(given.publicIPv4 == "1.2.3.4" && given.privateIPv4 == "10.77.1.50")

        let text = "#cloud-config\ncoreos:\n  fleet:\n    public-ip: $public_ipv4\n"
        do {
            _ = try CloudConfig.parse(UserData(text: text), addresses: env)
            Issue.record("expected a missing-address error")
        } catch {
            #expect(error.report.diagnostics.map(\.description)
                == ["line 4: error: no address for $public_ipv4: give it to the boot or set COREOS_PUBLIC_IPV4"])
        }
        let parsed = try CloudConfig.parse(UserData(text: text), addresses: given)
        #expect(parsed.config.fleet == [CloudConfig.Setting(key: "public_ip", value: "1.2.3.4", line: 4)])
    }
}

@Suite struct EncodingTests {
    @Test func base64Spellings() throws {
        for encoding in ["base64", "b64"] {
            let p = try plan("#cloud-config\nwrite_files:\n  - path: /etc/a\n    encoding: \(encoding)\n    content: aGVsbG8gZnJvbSBiYXNlNjQK\n")
            #expect(p.config?.writeFiles.first?.content == Array("hello from base64\n".utf8))
        }
    }

    @Test func gzipBase64Spellings() throws {
        for encoding in ["gz+base64", "gzip+base64", "gz+b64", "gzip+b64"] {
            let p = try plan("""
                #cloud-config
                write_files:
                  - path: /etc/a
                    encoding: \(encoding)
                    permissions: "0600"
                    content: H4sIAAAAAAACA8tIzcnJV0jOyS9N0U3Oz0vLTOcCABYKVcATAAAA
                """)
            let file = try #require(p.config?.writeFiles.first)
            #expect(String(decoding: file.content, as: UTF8.self) == "hello cloud-config\n")
            #expect(file.permissions == 0o600)
        }
    }

    @Test func gzipWithBinaryTag() throws {
        let p = try plan("""
            #cloud-config
            write_files:
              - path: /etc/a
                encoding: gzip
                content: !!binary |
                  H4sIAAAAAAACA8tIzcnJV0jOyS9N0U3Oz0vLTOcCABYKVcATAAAA
            """)
        #expect(p.config?.writeFiles.first?.content == Array("hello cloud-config\n".utf8))
    }

    @Test func inflateDynamicAndStoredBlocks() throws {
        let dynamic = "H4sIAAbMBGsC/4XWPU4DQRAF4ZxT7AVA/Xpm+uc4yLKEAxbJxpyfAG24VF7Jl9Vzv32/mtnb43r/uV2u2/25P7avfft8v3zc9utmL8+/RKeJjsRPEz+ScZqMI5mnyTySdZqsI4nTJI4kGV2MbkTLEC0hWo5oDURrIloL0QpGJ6OL0Y1oN0S7EO2OaB+I9oloX4j2YHQyuhjdiB6G6CFED0f0GIgeE9FjIXoEo5PRxehG9DRETyF6OqLnQPSciJ4L0TMYnYwuRjeilyF6CdHLEb0GotdE9FqIXsHoZHQxuhEdhugQosMRHQPRMREdC9ERjE5GF6Mb0clHlnxkyUeWfGTJR5Z8ZMlHlnxkyUeWfGTFR1Z8ZMVHVnxkxUdWfGTFR1Z8ZMVHVnxkzUfWfGTNR9Z8ZM1H1nxkzUfWfGTNR9Z4ZDI8MhkemQyPTIZHJsMjk+GRyYLRyehiNB6ZhEcm4ZFJeGQSHpmERybhkUnB6GR0Mfq/I/sFPOVdT2gQAAA="
        let out = try Gzip.decompress(ContentDecoder.base64(dynamic)!)
        let expected = (0..<120).map { String(format: "unit-%03d.service runs on machine %d\n", $0, $0 % 7) }.joined()
        #expect(String(decoding: out, as: UTF8.self) == expected)
        let stored = try Gzip.decompress(ContentDecoder.base64("H4sIAAAAAAAEAwERAO7/c3RvcmVkIGJsb2NrIGRhdGHfZaClEQAAAA==")!)
        #expect(String(decoding: stored, as: UTF8.self) == "stored block data")
    }

    @Test func corruptGzipIsRefused() {
        var bytes = ContentDecoder.base64("H4sIAAAAAAACA8tIzcnJV0jOyS9N0U3Oz0vLTOcCABYKVcATAAAA")!
        bytes[bytes.count - 6] ^= 0xff  // CRC
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(bytes) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(Array(bytes.prefix(12))) }
    }
}

@Suite struct ShippedExampleTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("cloud-config")

    static let files = ["kv-static-1.yaml", "kv-static-2.yaml", "kv-static-3.yaml",
                        "kv-discovery-1.yaml", "kv-discovery-2.yaml", "kv-discovery-3.yaml", "worker.yaml",
                        "worker-proxy.yaml"]

    @Test(arguments: files)
    func validatesCleanly(_ name: String) throws {
        let path = Self.directory.appendingPathComponent(name).path
        let result = CloudConfig.validateFile(atPath: path)
        #expect(result.exitStatus == 0, "\(name): \(result.text)")
        #expect(result.text == "valid cloud-config\n")
    }

    @Test(arguments: 1...3)
    func staticMembersFormOneCluster(_ index: Int) throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("kv-static-\(index).yaml"), encoding: .utf8)
        let p = try plan(text, HostAddresses(), units: .fleetd)
        guard case .member(let kv) = p.role else { Issue.record("expected a member"); return }
        #expect(kv.name == "kv\(index)")
        #expect(kv.initialCluster.members.map(\.name) == ["kv1", "kv2", "kv3"])
        #expect(kv.initialAdvertisePeerURLs == [KVURL(scheme: "http", host: "10.77.1.1\(index)", port: 2380)])
        #expect(kv.advertiseClientURLs == [KVURL(scheme: "http", host: "10.77.1.1\(index)", port: 2379)])
        #expect(kv.initialClusterToken == "fleet-kv-static")
        #expect(p.actions.last == .unitCommand(unit: "fleetd.service", command: .start))
        let dropInText = try #require(dropIn(p, "/run/systemd/system/fleetd.service.d/20-cloudinit.conf"))
        #expect(dropInText.contains("Environment=\"ETCD_NAME=kv\(index)\"\n"))
        #expect(dropInText.contains("Environment=\"FLEET_PUBLIC_IP=10.77.1.1\(index)\"\n"))
    }

    @Test(arguments: 1...3)
    func discoveryMembersShareOneToken(_ index: Int) throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("kv-discovery-\(index).yaml"), encoding: .utf8)
        guard case .member(let kv) = try plan(text, HostAddresses()).role else { Issue.record("expected a member"); return }
        #expect(kv.discovery == "http://10.77.1.11:2479/v2/keys/_etcd/registry/fleet-kv-demo")
    }

    @Test func proxyWorkerRunsAKVProxyInFrontOfTheMembers() throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("worker-proxy.yaml"), encoding: .utf8)
        let p = try plan(text, HostAddresses(privateIPv4: "10.77.1.21"), units: .fleetd)
        guard case .member(let kv) = p.role else { Issue.record("expected a KV proxy"); return }
        #expect(kv.proxy == .on)
        #expect(kv.isProxy)
        #expect(kv.initialCluster.members.map(\.name) == ["kv1", "kv2", "kv3"])
        #expect(kv.listenClientURLs == [KVURL(scheme: "http", host: "127.0.0.1", port: 2379)])
        let dropInText = try #require(dropIn(p, "/run/systemd/system/fleetd.service.d/20-cloudinit.conf"))
        #expect(dropInText.contains("Environment=\"ETCD_PROXY=on\"\n"))
        #expect(dropInText.contains("Environment=\"FLEET_ETCD_SERVERS=http://127.0.0.1:2379\"\n"))
    }

    @Test func discoveryServiceUnitRunsAValidKVCommand() throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("kv-discovery-1.yaml"), encoding: .utf8)
        let config = try CloudConfig.parse(UserData(text: text)).config
        let unit = try #require(config.units.first(where: { $0.name == "kv-discovery.service" }))
        let content = try #require(unit.content).replacingOccurrences(of: "\\\n", with: " ")
        let execStart = try #require(content.split(separator: "\n").first(where: { $0.hasPrefix("ExecStart=") }))
        let words = execStart.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
        #expect(Array(words.prefix(2)) == ["/usr/local/bin/fleetd", "kv"])
        guard case .run(let kv, let warnings) = try KVConfig.parse(arguments: Array(words.dropFirst(2)), environment: [:])
        else { Issue.record("expected .run"); return }
        #expect(warnings.isEmpty)
        #expect(kv.name == "discovery")
        #expect(kv.advertiseClientURLs == [KVURL(scheme: "http", host: "10.77.1.11", port: 2479)])
        #expect(kv.initialCluster.description == "discovery=http://127.0.0.1:2480")
    }

    @Test func workerPointsAtTheMembers() throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("worker.yaml"), encoding: .utf8)
        let p = try plan(text, HostAddresses(privateIPv4: "10.77.1.21"), units: .fleetd)
        #expect(p.role == .worker)
        #expect(p.actions.map(\.description) == [
            "set hostname worker1",
            "ensure user ops",
            "write /etc/motd (43 bytes, mode 644)",
            "update /etc/environment: COREOS_PRIVATE_IPV4",
            "write drop-in /run/systemd/system/fleetd.service.d/20-cloudinit.conf",
            "unmask fleetd.service if masked",
            "daemon-reload",
            "start fleetd.service",
        ])
        let fleet = FleetConfig.resolve(layers: [p.config!.fleetSettings])
        #expect(fleet.errors.isEmpty)
        #expect(fleet.config.publicIP == "10.77.1.21")
        #expect(fleet.config.etcdServers == ["http://10.77.1.11:2379", "http://10.77.1.12:2379", "http://10.77.1.13:2379"])
    }
}
