import Foundation
import Testing
@testable import Fleet

@Suite struct FleetConfigTests {
    @Test func defaultsMatchFleet() {
        let config = FleetConfig()
        #expect(config.agentTTL == .seconds(30))
        #expect(config.engineReconcileInterval == 2.0)
        #expect(config.etcdRequestTimeout == 1.0)
        #expect(config.etcdKeyPrefix == "/_coreos.com/fleet/")
        #expect(config.etcdServers == ["http://127.0.0.1:2379", "http://127.0.0.1:4001"])
        #expect(config.unitsDirectory == "/run/fleet/units/")
        #expect(config.tokenLimit == 100)
        #expect(config.verbosity == 0)
        #expect(!config.disableEngine)
        #expect(config.publicIP.isEmpty)
        #expect(config.metadata.isEmpty)
    }

    @Test func environmentVariables() {
        let env = FleetConfig.environmentSettings([
            "FLEET_AGENT_TTL": "60s", "FLEET_ENGINE_RECONCILE_INTERVAL": "8", "FLEET_ETCD_REQUEST_TIMEOUT": "3.0",
            "FLEET_METADATA": "region=us-west, az = 1", "FLEET_ETCD_SERVERS": "http://10.0.0.1:2379,http://10.0.0.2:2379",
            "FLEET_DISABLE_ENGINE": "true", "FLEET_PUBLIC_IP": "10.0.0.9", "FLEET_VERBOSITY": "2",
            "FLEET_ETCD_KEY_PREFIX": "/my/fleet", "FLEET_BOGUS": "1", "PATH": "/bin",
        ])
        #expect(env.warnings == ["unrecognized environment variable FLEET_BOGUS"])
        let result = FleetConfig.resolve(layers: [env.settings])
        #expect(result.errors.isEmpty)
        let config = result.config
        #expect(config.agentTTL == .seconds(60))
        #expect(config.engineReconcileInterval == 8)
        #expect(config.etcdRequestTimeout == 3)
        #expect(config.metadata == ["region": "us-west", "az": "1"])
        #expect(config.metadataString == "az=1,region=us-west")
        #expect(config.etcdServers == ["http://10.0.0.1:2379", "http://10.0.0.2:2379"])
        #expect(config.disableEngine)
        #expect(config.publicIP == "10.0.0.9")
        #expect(config.verbosity == 2)
        #expect(config.etcdKeyPrefix == "/my/fleet")
    }

    @Test func badValuesNameTheirSource() {
        let env = FleetConfig.environmentSettings(["FLEET_AGENT_TTL": "12abc", "FLEET_VERBOSITY": "high",
                                                   "FLEET_PUBLIC_IP": "not-an-ip", "FLEET_METADATA": "a=1,b"])
        let errors = FleetConfig.resolve(layers: [env.settings]).errors.map(\.description)
        #expect(errors == [
            "FLEET_AGENT_TTL: expected a duration like \"30s\", got 12abc",
            "FLEET_METADATA: expected key=value pairs separated by commas, got a=1,b",
            "FLEET_PUBLIC_IP: expected an IPv4 or IPv6 address, got not-an-ip",
            "FLEET_VERBOSITY: expected a whole number of at least 0, got high",
        ])
    }

    @Test func ourOptions() {
        let good = FleetConfig.environmentSettings([
            "FLEET_API_LISTEN": "unix:///run/f.sock,http://0.0.0.0:49153", "FLEET_MACHINE_TTL": "2500ms",
            "FLEET_API_ADVERTISE_URL": "http://10.0.0.1:49153",
        ])
        let config = FleetConfig.resolve(layers: [good.settings]).config
        #expect(config.apiListen == ["unix:///run/f.sock", "http://0.0.0.0:49153"])
        #expect(config.machineTTL == .milliseconds(2500))
        #expect(config.apiAdvertiseURL == "http://10.0.0.1:49153")
        #expect(FleetConfig().machineTTL == .seconds(3))
        #expect(FleetConfig().apiListen == ["unix:///var/run/fleet.sock"])

        let bad = FleetConfig.environmentSettings([
            "FLEET_API_LISTEN": "tcp://x", "FLEET_MACHINE_TTL": "500ms", "FLEET_API_ADVERTISE_URL": "unix:///x",
        ])
        #expect(FleetConfig.resolve(layers: [bad.settings]).errors.map(\.description) == [
            "FLEET_API_LISTEN: expected a comma-separated list of unix:///path, http://host:port or https://host:port URLs, got tcp://x",
            "FLEET_API_ADVERTISE_URL: expected an http://host:port or https://host:port URL, got unix:///x",
            "FLEET_MACHINE_TTL: expected a duration of at least 1s, like \"3s\", got 500ms",
        ])
    }

    @Test func engineLeaseTTLDefaultsToTheMachineTTL() {
        #expect(FleetConfig().engineLeaseTTL == nil)
        let set = FleetConfig.environmentSettings(["FLEET_ENGINE_LEASE_TTL": "6s"])
        #expect(FleetConfig.resolve(layers: [set.settings]).config.engineLeaseTTL == .seconds(6))
        let bad = FleetConfig.environmentSettings(["FLEET_ENGINE_LEASE_TTL": "200ms"])
        #expect(FleetConfig.resolve(layers: [bad.settings]).errors.map(\.description) == [
            "FLEET_ENGINE_LEASE_TTL: expected a duration of at least 1s, like \"3s\" (empty: the machine_ttl), got 200ms",
        ])
    }

    @Test(arguments: [("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0), ("2h45m", 9900.0)])
    func goDurations(_ text: String, _ seconds: Double) {
        var config = FleetConfig()
        #expect(config.apply(FleetOption.named("agent_ttl")!, text) == nil)
        #expect(abs(config.agentTTLSeconds - seconds) < 1e-9)
    }

    @Test(arguments: ["30", "s", "1x", "", "1.2.3s", "0", "-5s"])
    func badDurations(_ text: String) {
        var config = FleetConfig()
        #expect(config.apply(FleetOption.named("agent_ttl")!, text) != nil)
    }

    @Test func configFileFromTheReference() {
        // fleet.conf as written by the functional-test user-data (reference §8c).
        let file = """
            verbosity=2
            etcd_servers=["http://172.18.0.1:4001"]
            etcd_key_prefix=/fleet_functional/smoke
            public_ip=172.18.1.1
            agent_ttl=3s
            """
        let parsed = FleetConfig.configFileSettings(path: "/etc/fleet/fleet.conf", contents: file)
        #expect(parsed.errors.isEmpty)
        #expect(parsed.warnings.isEmpty)
        let config = FleetConfig.resolve(layers: [parsed.settings]).config
        #expect(config.verbosity == 2)
        #expect(config.etcdServers == ["http://172.18.0.1:4001"])
        #expect(config.etcdKeyPrefix == "/fleet_functional/smoke")
        #expect(config.publicIP == "172.18.1.1")
        #expect(config.agentTTL == .seconds(3))
    }

    @Test func configFileSyntax() {
        let file = """
            # comment
            ; another
            metadata="role=kv,zone=a"
            bogus_option=1
            this line is wrong
            [section]
            verbosity=3
            """
        let parsed = FleetConfig.configFileSettings(path: "f.conf", contents: file)
        #expect(parsed.errors == [.syntax(path: "f.conf", line: 5, text: "this line is wrong")])
        #expect(parsed.warnings.count == 2)
        #expect(parsed.warnings[0] == "f.conf line 4: unrecognized option \"bogus_option\"")
        #expect(parsed.settings["verbosity"] == nil)
        #expect(FleetConfig.resolve(layers: [parsed.settings]).config.metadata == ["role": "kv", "zone": "a"])
        let bad = FleetConfig.configFileSettings(path: "f.conf", contents: "agent_ttl=12abc\n")
        #expect(FleetConfig.resolve(layers: [bad.settings]).errors.map(\.description)
            == ["f.conf line 1: agent_ttl: expected a duration like \"30s\", got 12abc"])
    }

    @Test func commandLine() throws {
        #expect(try FleetConfig.parseCommandLine(["--version"]) == .version)
        #expect(try FleetConfig.parseCommandLine(["version"]) == .version)
        #expect(try FleetConfig.parseCommandLine(["-h"]) == .help)
        guard case .run(let flags, let path) = try FleetConfig.parseCommandLine(
            ["-config", "/tmp/f.conf", "--agent-ttl=45s", "--disable_engine", "--etcd-servers", "http://h:2379"])
        else { Issue.record("expected .run"); return }
        #expect(path == "/tmp/f.conf")
        #expect(flags["agent_ttl"]?.value == "45s")
        #expect(flags["disable_engine"]?.value == "true")
        #expect(flags["etcd_servers"]?.value == "http://h:2379")
        #expect(throws: FleetConfigError.unexpectedArgument("start")) { try FleetConfig.parseCommandLine(["start"]) }
        #expect(throws: FleetConfigError.unknownFlag("bogus")) { try FleetConfig.parseCommandLine(["--bogus=1"]) }
        #expect(throws: FleetConfigError.missingValue(flag: "config")) { try FleetConfig.parseCommandLine(["--config"]) }
    }

    @Test func precedenceFlagsEnvironmentFileCloudConfigDefaults() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleetconf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("fleet.conf").path
        try "agent_ttl=10s\nverbosity=3\nmetadata=from=file\ntoken_limit=7\n".write(toFile: path, atomically: true, encoding: .utf8)
        let cloud = ["agent_ttl": FleetSetting(value: "11s", source: .cloudConfig(key: "agent_ttl", line: 4)),
                     "verbosity": FleetSetting(value: "4", source: .cloudConfig(key: "verbosity", line: 5)),
                     "metadata": FleetSetting(value: "from=cloud", source: .cloudConfig(key: "metadata", line: 6)),
                     "token_limit": FleetSetting(value: "8", source: .cloudConfig(key: "token_limit", line: 7)),
                     "etcd_key_prefix": FleetSetting(value: "/cloud/", source: .cloudConfig(key: "etcd_key_prefix", line: 8))]
        guard case .run(let flags, let configPath) = try FleetConfig.parseCommandLine(["--config", path, "--agent-ttl", "12s"])
        else { Issue.record("expected .run"); return }
        let (config, _) = try FleetConfig.load(flags: flags, configPath: configPath,
                                               environment: ["FLEET_VERBOSITY": "5", "FLEET_AGENT_TTL": "13s"],
                                               cloudConfig: cloud)
        #expect(config.agentTTL == .seconds(12))  // flag
        #expect(config.verbosity == 5)  // environment over file
        #expect(config.metadata == ["from": "file"])  // file over cloud-config
        #expect(config.tokenLimit == 7)
        #expect(config.etcdKeyPrefix == "/cloud/")  // cloud-config over default
        #expect(config.etcdRequestTimeout == 1.0)  // default
    }

    @Test func missingExplicitConfigFileIsAnError() {
        #expect(throws: FleetConfigFailure.self) {
            try FleetConfig.load(flags: [:], configPath: "/nonexistent/fleet.conf", environment: [:])
        }
        #expect(throws: FleetConfigFailure.self) {
            try FleetConfig.load(flags: [:], configPath: "/tmp", environment: [:])
        }
    }

    @Test func valueSyntaxes() {
        #expect(FleetValues.parseList("[\"http://a:1\", \"http://b:2\"]") == ["http://a:1", "http://b:2"])
        #expect(FleetValues.parseMetadata("'a=1, b = 2,a=3'") == ["a": "3", "b": "2"])
        #expect(FleetValues.parseMetadata("") == [:])
        #expect(FleetValues.parseMetadata("=x") == nil)
        #expect(FleetValues.isIPAddress("fe80::1"))
        #expect(!FleetValues.isIPAddress("10.0.0.256"))
        #expect(FleetValues.formatFloat(2) == "2")
        #expect(FleetValues.formatFloat(2.5) == "2.5")
    }

    @Test func startupInOneCall() throws {
        #expect(try FleetConfig.startup(arguments: ["--help"], environment: [:]) == .help)
        guard case .run(let config, let warnings) = try FleetConfig.startup(
            arguments: ["--config", "/dev/null", "--verbosity=1"], environment: ["FLEET_AGENT_TTL": "5s"])
        else { Issue.record("expected .run"); return }
        #expect(config.verbosity == 1)
        #expect(config.agentTTL == .seconds(5))
        #expect(warnings.isEmpty)
        #expect(throws: FleetConfigFailure(errors: [.unexpectedArgument("extra")])) {
            try FleetConfig.startup(arguments: ["extra"], environment: [:])
        }
        do {
            _ = try FleetConfig.startup(arguments: ["--config", "/dev/null"], environment: ["FLEET_AGENT_TTL": "12abc"])
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "FLEET_AGENT_TTL: expected a duration like \"30s\", got 12abc")
        }
        #expect(FleetConfig.usage.contains("--agent-ttl  [FLEET_AGENT_TTL] default \"30s\""))
    }
}

