import KV
import Testing
@testable import Fleet

/// Every field of the schema reaches the model (and, for etcd2/fleet, the shared configuration types).
@Suite struct CloudConfigFieldTests {
    @Test func everyEtcd2KeyIsAKVFlag() {
        for (key, _) in CloudConfigSchema.etcd2Keys {
            let flag = KVFlag.named(key)
            #expect(flag != nil, "coreos.etcd2.\(key) has no KV flag")
            #expect(flag?.environmentName == "ETCD_" + key.uppercased())
        }
    }

    @Test func everyFleetKeyIsAFleetOption() {
        let cloudKeys = ["agent_ttl", "authorized_keys_file", "disable_engine", "engine_reconcile_interval", "etcd_cafile",
                         "etcd_certfile", "etcd_keyfile", "etcd_key_prefix", "etcd_request_timeout", "etcd_servers",
                         "etcd_username", "etcd_password", "metadata", "public_ip", "token_limit", "verbosity", "verify_units"]
        // fleet's keys, then ours (the API listeners and their TLS files, the machine presence TTL, the
        // engine lease TTL).
        let ours = ["api_listen", "api_advertise_url", "api_cert_file", "api_key_file", "api_ca_file", "machine_ttl",
                    "engine_lease_ttl"]
        #expect(FleetOption.all.filter(\.inCloudConfig).map(\.name) == cloudKeys + ours)
        #expect(FleetOption.all.filter { !$0.inCloudConfig }.map(\.name)
            == ["units_directory", "systemd_user", "enable_grpc", "disable_watches"])
    }

    static let allEtcd2 = """
        #cloud-config
        coreos:
          etcd2:
            name: m1
            data-dir: /var/lib/etcd2
            wal_dir: /var/lib/etcd2-wal
            snapshot_count: 5000
            heartbeat_interval: 200
            election_timeout: 2000
            max_snapshots: 3
            max_wals: 4
            listen_peer_urls: http://10.0.0.1:2380
            listen_client_urls: http://10.0.0.1:2379
            initial_advertise_peer_urls: http://10.0.0.1:2380
            advertise_client_urls: http://10.0.0.1:2379
            initial_cluster: m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380
            initial_cluster_state: existing
            initial_cluster_token: tok
            discovery_fallback: exit
            discovery_proxy: http://proxy:3128
            strict_reconfig_check: false
            force_new_cluster: true
            cors: http://a.example,http://b.example
            proxy: off
            proxy_dial_timeout: 100
            proxy_failure_wait: 200
            proxy_read_timeout: 300
            proxy_refresh_interval: 400
            proxy_write_timeout: 500
            cert_file: /c
            key_file: /k
            client_cert_auth: true
            trusted_ca_file: /ca
            peer_cert_file: /pc
            peer_key_file: /pk
            peer_client_cert_auth: true
            peer_trusted_ca_file: /pca
            debug: true
            log_package_levels: etcdserver=WARNING
            enable_pprof: true
        """

    @Test func everyEtcd2FieldReachesKVConfig() throws {
        let plan = try BootPlan.make(for: UserData(text: Self.allEtcd2))
        #expect(plan.report.diagnostics.isEmpty, "\(plan.report.text)")
        guard case .member(let kv) = plan.role else { Issue.record("expected a member"); return }
        #expect(kv.name == "m1")
        #expect(kv.dataDir == "/var/lib/etcd2")
        #expect(kv.walDir == "/var/lib/etcd2-wal")
        #expect(kv.snapshotCount == 5000)
        #expect(kv.heartbeatInterval == 200 && kv.electionTimeout == 2000)
        #expect(kv.maxSnapshots == 3 && kv.maxWALs == 4)
        #expect(kv.listenPeerURLs.commaSeparated == "http://10.0.0.1:2380")
        #expect(kv.listenClientURLs.commaSeparated == "http://10.0.0.1:2379")
        #expect(kv.initialAdvertisePeerURLs.commaSeparated == "http://10.0.0.1:2380")
        #expect(kv.advertiseClientURLs.commaSeparated == "http://10.0.0.1:2379")
        #expect(kv.initialCluster.members.map(\.name) == ["m1", "m2"])
        #expect(kv.initialClusterState == .existing)
        #expect(kv.initialClusterToken == "tok")
        #expect(kv.discoveryFallback == .exit)
        #expect(kv.discoveryProxy == "http://proxy:3128")
        #expect(!kv.strictReconfigCheck)
        #expect(kv.forceNewCluster)
        #expect(kv.cors == ["http://a.example", "http://b.example"])
        #expect(kv.proxy == .off)
        #expect([kv.proxyDialTimeout, kv.proxyFailureWait, kv.proxyReadTimeout, kv.proxyRefreshInterval, kv.proxyWriteTimeout]
            == [100, 200, 300, 400, 500])
        #expect(kv.clientTLS.certFile == "/c" && kv.clientTLS.keyFile == "/k" && kv.clientTLS.trustedCAFile == "/ca")
        #expect(kv.clientTLS.clientCertAuth)
        #expect(kv.peerTLS.certFile == "/pc" && kv.peerTLS.keyFile == "/pk" && kv.peerTLS.trustedCAFile == "/pca")
        #expect(kv.peerTLS.clientCertAuth)
        #expect(kv.debug && kv.enablePprof)
        #expect(kv.logPackageLevels == "etcdserver=WARNING")

        // The drop-in carries the same values, in the reference's key order, explicit false included.
        let env = try #require(plan.config).etcdEnvironment
        #expect(env.count == 37)  // all 41 keys but discovery, discovery_srv, ca_file, peer_ca_file
        #expect(env.first! == ("ETCD_ADVERTISE_CLIENT_URLS", "http://10.0.0.1:2379"))
        #expect(env.contains(where: { $0 == ("ETCD_STRICT_RECONFIG_CHECK", "false") }))
        #expect(env.contains(where: { $0 == ("ETCD_PROXY", "off") }))
        #expect(env.last! == ("ETCD_WAL_DIR", "/var/lib/etcd2-wal"))
        // Feeding the drop-in's variables to `fleetd kv` gives the same configuration.
        let environment = Dictionary(uniqueKeysWithValues: env.map { ($0.name, $0.value) })
        #expect(try KVConfig.parse(arguments: [], environment: environment) == .run(kv, warnings: []))
    }

    @Test func everyFleetFieldReachesFleetConfig() throws {
        let text = """
            #cloud-config
            coreos:
              fleet:
                agent-ttl: 45s
                disable-engine: true
                engine-reconcile-interval: 4
                etcd-cafile: /ca
                etcd-certfile: /cert
                etcd-keyfile: /key
                etcd-key-prefix: /p/
                etcd-request-timeout: 2.5
                etcd-servers: http://10.0.0.1:2379,http://10.0.0.2:2379
                etcd-username: u
                etcd-password: pw
                metadata: a=1,b=2
                public-ip: 10.0.0.1
                token-limit: 50
                verbosity: 3
            """
        let plan = try BootPlan.make(for: UserData(text: text))
        #expect(plan.report.diagnostics.isEmpty)
        let result = FleetConfig.resolve(layers: [plan.config!.fleetSettings])
        #expect(result.errors.isEmpty)
        let c = result.config
        #expect(c.agentTTL == .seconds(45) && c.disableEngine && c.engineReconcileInterval == 4)
        #expect(c.etcdCAFile == "/ca" && c.etcdCertFile == "/cert" && c.etcdKeyFile == "/key")
        #expect(c.etcdKeyPrefix == "/p/" && c.etcdRequestTimeout == 2.5)
        #expect(c.etcdServers == ["http://10.0.0.1:2379", "http://10.0.0.2:2379"])
        #expect(c.etcdUsername == "u" && c.etcdPassword == "pw")
        #expect(c.metadata == ["a": "1", "b": "2"] && c.publicIP == "10.0.0.1")
        #expect(c.tokenLimit == 50 && c.verbosity == 3)
        // Same values through the drop-in's FLEET_* variables.
        let env = Dictionary(uniqueKeysWithValues: plan.config!.fleetEnvironment.map { ($0.name, $0.value) })
        #expect(FleetConfig.resolve(layers: [FleetConfig.environmentSettings(env).settings]).config == c)
        let deprecated = CloudConfig.validate(text: "#cloud-config\ncoreos:\n  fleet:\n    verify_units: true\n")
        #expect(deprecated.diagnostics.map(\.severity) == [.warning])
    }

    @Test func everyUserField() throws {
        let text = """
            #cloud-config
            users:
              - name: elroy
                passwd: $6$5s2u6/jR$un0AvWnqilcgaNB3Mkxd5yYv6mTlWfOoCYHZmfi3LDKVltj.E8XNKEcwWm...
                ssh-authorized-keys: ["ssh-rsa AAAA elroy"]
                gecos: Elroy Jetson
                homedir: /home/elroy
                no-create-home: true
                primary-group: jetsons
                groups: [sudo, docker]
                no-user-group: true
                system: true
                no-log-init: true
                shell: /bin/zsh
            """
        let user = try #require(try CloudConfig.parse(UserData(text: text)).config.users.first)
        #expect(user.name == "elroy")
        #expect(user.passwordHash?.hasPrefix("$6$5s2u6/jR$") == true)
        #expect(user.sshAuthorizedKeys == ["ssh-rsa AAAA elroy"])
        #expect(user.gecos == "Elroy Jetson" && user.homeDirectory == "/home/elroy")
        #expect(user.noCreateHome && user.noUserGroup && user.system && user.noLogInit)
        #expect(user.primaryGroup == "jetsons" && user.groups == ["sudo", "docker"] && user.shell == "/bin/zsh")
        #expect(CloudConfig.validate(text: "#cloud-config\nusers:\n  - gecos: nobody\n").errors.map(\.message) == ["a user needs a name"])
    }

    @Test func everyUnitField() throws {
        let text = """
            #cloud-config
            coreos:
              units:
                - name: app.service
                  runtime: true
                  enable: yes
                  mask: false
                  command: reload-or-try-restart
                  content: |
                    [Service]
                    ExecStart=/bin/app
                    [Install]
                    WantedBy=multi-user.target
                  drop-ins:
                    - name: 10-env.conf
                      content: |
                        [Service]
                        Environment=A=1
            """
        let plan = try BootPlan.make(for: UserData(text: text))
        let unit = try #require(plan.config?.units.first)
        #expect(unit.runtime && unit.enable && !unit.mask)
        #expect(unit.command == .reloadOrTryRestart)
        // The literal block is the last line of the document, so it has no final newline.
        #expect(unit.dropIns == [CloudConfig.DropIn(name: "10-env.conf", content: "[Service]\nEnvironment=A=1")])
        #expect(plan.actions == [
            .writeUnitFile(unit: "app.service", path: "/run/systemd/system/app.service",
                           content: "[Service]\nExecStart=/bin/app\n[Install]\nWantedBy=multi-user.target\n"),
            .writeDropIn(unit: "app.service", path: "/run/systemd/system/app.service.d/10-env.conf",
                         content: "[Service]\nEnvironment=A=1"),
            .unmaskUnit(unit: "app.service", path: "/run/systemd/system/app.service"),
            .enableUnit(unit: "app.service", runtime: true),
            .daemonReload,
            .unitCommand(unit: "app.service", command: .reloadOrTryRestart),
        ])
    }

    @Test func dropInValuesAreEscapedForSystemd() throws {
        let plan = try BootPlan.make(for: UserData(text: "#cloud-config\ncoreos:\n  fleet:\n    metadata: 'note=say \"hi\"'\n"))
        #expect(plan.actions.first == .writeDropIn(
            unit: "fleetd.service", path: "/run/systemd/system/fleetd.service.d/20-cloudinit.conf",
            content: "[Service]\nEnvironment=\"FLEET_METADATA=note=say \\\"hi\\\"\"\n"))
    }
}
