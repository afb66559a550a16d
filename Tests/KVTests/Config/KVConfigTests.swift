import Testing
@testable import KV

private func run(_ args: [String], env: [String: String] = [:]) throws -> (KVConfig, [KVConfigWarning]) {
    switch try KVConfig.parse(arguments: args, environment: env) {
    case .run(let config, let warnings): return (config, warnings)
    default:
        Issue.record("expected .run")
        return (KVConfig(), [])
    }
}

private func failure(_ args: [String], env: [String: String] = [:]) -> KVConfigError? {
    do {
        _ = try KVConfig.parse(arguments: args, environment: env)
        return nil
    } catch {
        return error
    }
}

@Suite struct KVConfigDefaultsTests {
    @Test func defaultsMatchEtcd() throws {
        let (config, warnings) = try run([])
        #expect(warnings.isEmpty)
        #expect(config.name == "default")
        #expect(config.dataDir == "default.etcd")
        #expect(config.listenPeerURLs.commaSeparated == "http://localhost:2380")
        #expect(config.listenClientURLs.commaSeparated == "http://localhost:2379")
        #expect(config.initialAdvertisePeerURLs.commaSeparated == "http://localhost:2380")
        #expect(config.advertiseClientURLs.commaSeparated == "http://localhost:2379")
        #expect(config.initialCluster.description == "default=http://localhost:2380")
        #expect(config.initialClusterState == .new)
        #expect(config.initialClusterToken == "etcd-cluster")
        #expect(config.snapshotCount == 100_000)
        #expect(config.heartbeatInterval == 100)
        #expect(config.electionTimeout == 1000)
        #expect(config.discovery == nil)
        #expect(config.discoveryFallback == .proxy)
        #expect(config.strictReconfigCheck)
        #expect(config.proxy == .off)
        #expect(!config.isProxy)
    }

    @Test func dataDirFollowsName() throws {
        let (config, _) = try run(["--name", "m1"])
        #expect(config.dataDir == "m1.etcd")
        #expect(config.initialCluster.description == "m1=http://localhost:2380")
    }
}

@Suite struct KVFlagFormTests {
    @Test(arguments: [["--name=m1"], ["--name", "m1"], ["-name=m1"], ["-name", "m1"]])
    func everyFlagForm(_ args: [String]) throws {
        #expect(try run(args).0.name == "m1")
    }

    @Test func booleanForms() throws {
        #expect(try run(["--debug"]).0.debug)
        #expect(try run(["-debug=true"]).0.debug)
        #expect(try run(["--strict-reconfig-check=false"]).0.strictReconfigCheck == false)
        #expect(try run(["--force-new-cluster=1"]).0.forceNewCluster)
        // Go's flag package never takes a separate value for a boolean.
        #expect(failure(["--debug", "false"]) == .unexpectedArgument("false"))
        #expect(failure(["--debug=maybe"])?.description == "invalid value \"maybe\" for flag -debug: expected true or false")
    }

    @Test func lastRepeatWins() throws {
        #expect(try run(["--name", "a", "--name=b"]).0.name == "b")
    }

    @Test func everyIssueFlagIsKnown() {
        for name in ["name", "data-dir", "listen-peer-urls", "initial-advertise-peer-urls", "listen-client-urls",
                     "advertise-client-urls", "initial-cluster", "initial-cluster-state", "initial-cluster-token",
                     "discovery", "snapshot-count", "heartbeat-interval", "election-timeout", "proxy"] {
            #expect(KVFlag.named(name) != nil, "missing flag \(name)")
        }
        #expect(KVFlag.named("initial-cluster")?.environmentName == "ETCD_INITIAL_CLUSTER")
    }

    @Test func usageErrors() {
        #expect(failure(["--bogus=1"]) == .unknownFlag("bogus"))
        #expect(failure(["--bogus=1"])?.description == "flag provided but not defined: -bogus")
        #expect(failure(["--name"]) == .missingValue(flag: "name"))
        #expect(failure(["member1"]) == .unexpectedArgument("member1"))
        #expect(failure(["--", "x"]) == .unexpectedArgument("x"))
    }

    @Test func helpAndVersion() throws {
        #expect(try KVConfig.parse(arguments: ["-h"], environment: [:]) == .help)
        #expect(try KVConfig.parse(arguments: ["--help"], environment: [:]) == .help)
        #expect(try KVConfig.parse(arguments: ["--version"], environment: [:]) == .version)
        #expect(KVConfig.usage.contains("--initial-cluster-state"))
        for flag in ["--discovery VALUE", "--discovery-fallback VALUE", "--discovery-proxy VALUE", "--proxy VALUE", "--proxy-failure-wait N"] {
            #expect(KVConfig.usage.contains(flag), "\(flag) missing from --help")
        }
    }

    @Test func numbers() throws {
        let (config, _) = try run(["--snapshot-count", "5000", "--heartbeat-interval=200", "--election-timeout=2000"])
        #expect(config.snapshotCount == 5000)
        #expect(config.heartbeatInterval == 200)
        #expect(config.electionTimeout == 2000)
        #expect(failure(["--snapshot-count=-1"])?.description
            == "invalid value \"-1\" for flag -snapshot-count: expected a non-negative whole number")
        #expect(failure(["--heartbeat-interval=1e3"]) != nil)
    }
}

@Suite struct KVEnvironmentTests {
    @Test func environmentVariablesSetFlags() throws {
        let env = ["ETCD_NAME": "m2", "ETCD_INITIAL_CLUSTER_STATE": "existing", "ETCD_HEARTBEAT_INTERVAL": "50",
                   "ETCD_ELECTION_TIMEOUT": "500", "ETCD_DEBUG": "true", "ETCD_INITIAL_CLUSTER": "m2=http://localhost:2380"]
        let (config, warnings) = try run([], env: env)
        #expect(warnings.isEmpty)
        #expect(config.name == "m2")
        #expect(config.initialClusterState == .existing)
        #expect(config.heartbeatInterval == 50)
        #expect(config.electionTimeout == 500)
        #expect(config.debug)
    }

    @Test func flagsWinOverEnvironmentWithAWarning() throws {
        let (config, warnings) = try run(["--name=flag"], env: ["ETCD_NAME": "env"])
        #expect(config.name == "flag")
        #expect(warnings.map(\.message) == ["recognized environment variable ETCD_NAME, but unused: shadowed by corresponding flag"])
    }

    @Test func unknownEnvironmentIsAWarning() throws {
        let (_, warnings) = try run([], env: ["ETCD_BOGUS": "1", "ETCDCTL_API": "2", "HOME": "/root"])
        #expect(warnings.map(\.message) == ["unrecognized environment variable ETCD_BOGUS=1"])
    }

    @Test func memberOrWorkerFromEnvironment() {
        #expect(KVConfig.isConfigured(in: ["ETCD_NAME": "kv1"]))
        #expect(!KVConfig.isConfigured(in: ["ETCD_NAME": "", "ETCDCTL_API": "2", "FLEET_PUBLIC_IP": "10.0.0.1"]))
    }

    @Test func badEnvironmentValueNamesTheVariable() {
        #expect(failure([], env: ["ETCD_ELECTION_TIMEOUT": "soon"])?.description
            == "invalid value \"soon\" for ETCD_ELECTION_TIMEOUT: expected a non-negative whole number")
    }

    @Test func deprecatedCAFileWarnsAndMaps() throws {
        let (config, warnings) = try run([], env: ["ETCD_CA_FILE": "/etc/ssl/ca.pem"])
        #expect(config.clientTLS.trustedCAFile == "/etc/ssl/ca.pem")
        #expect(config.clientTLS.clientCertAuth)
        #expect(warnings.count == 1)
    }
}

@Suite struct KVURLTests {
    @Test func urlLists() throws {
        let (config, _) = try run(["--listen-client-urls", "http://0.0.0.0:2379, http://[::1]:4001",
                                   "--advertise-client-urls", "https://10.0.0.1:2379"])
        #expect(config.listenClientURLs == [KVURL(scheme: "http", host: "0.0.0.0", port: 2379),
                                            KVURL(scheme: "http", host: "::1", port: 4001)])
        #expect(config.listenClientURLs.commaSeparated == "http://0.0.0.0:2379,http://[::1]:4001")
        #expect(config.advertiseClientURLs[0].scheme == "https")
    }

    @Test(arguments: [
        ("http://10.0.0.1", "URL address does not have the form \"host:port\""),
        ("http://10.0.0.1:2379/", "URL must not contain a path"),
        ("ftp://10.0.0.1:2379", "URL scheme must be http, https, unix, or unixs"),
        ("10.0.0.1:2379", "URL scheme must be http, https, unix, or unixs"),
        ("http://10.0.0.1:99999", "URL port must be a number from 0 to 65535"),
    ])
    func badURLs(_ url: String, _ reason: String) {
        #expect(failure(["--listen-peer-urls", url, "--initial-advertise-peer-urls", "http://localhost:2380"])
            == .invalidURL(flag: "listen-peer-urls", url: url, reason: reason))
    }

    @Test func emptyListIsAnError() {
        #expect(failure(["--advertise-client-urls="]) != nil)
    }
}

@Suite struct KVBootstrapRuleTests {
    static let referenceExample = [
        "--enable-v2=true", "--name", "m1", "--data-dir", "m1.data",
        "--listen-client-urls", "http://127.0.0.1:22379", "--advertise-client-urls", "http://127.0.0.1:22379",
        "--listen-peer-urls", "http://127.0.0.1:22380", "--initial-advertise-peer-urls", "http://127.0.0.1:22380",
        "--initial-cluster", "m1=http://127.0.0.1:22380,m2=http://127.0.0.1:22480,m3=http://127.0.0.1:22580",
        "--initial-cluster-state", "new", "--initial-cluster-token", "demo-3",
    ]

    @Test func referenceThreeMemberExample() throws {
        let (config, warnings) = try run(Self.referenceExample)
        #expect(warnings.isEmpty)
        #expect(config.dataDir == "m1.data")
        #expect(config.initialCluster.members.map(\.name) == ["m1", "m2", "m3"])
        #expect(config.initialCluster.peerURLs(of: "m3") == [KVURL(scheme: "http", host: "127.0.0.1", port: 22580)])
        #expect(config.initialClusterToken == "demo-3")
    }

    @Test func repeatedNameCollectsURLs() throws {
        let cluster = try KVInitialCluster.parse("a=http://h:1,b=http://h:2,a=http://h:3").get()
        #expect(cluster.members.count == 2)
        #expect(cluster.peerURLs(of: "a")?.map(\.port) == [1, 3])
        #expect(cluster.description == "a=http://h:1,a=http://h:3,b=http://h:2")
    }

    @Test func initialClusterSyntax() {
        let error = failure(["--initial-cluster", "m1=http://localhost:2380,http://x:1"])
        #expect(error?.flag == "initial-cluster")
        #expect(error?.description.contains("name=peerURL") == true)
    }

    @Test func initialClusterState() {
        #expect(failure(["--initial-cluster-state", "join"])?.description
            == "invalid value \"join\" for flag -initial-cluster-state: valid values are \"new\", \"existing\"")
    }

    @Test func electionTimeoutAtLeastFiveHeartbeats() throws {
        #expect(failure(["--heartbeat-interval=300", "--election-timeout=1000"])?.description
            == "--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]")
        #expect(try run(["--heartbeat-interval=200", "--election-timeout=1000"]).0.electionTimeout == 1000)
        #expect(failure(["--election-timeout=60000"])?.description
            == "--election-timeout[60000ms] is too long, and should be set less than 50000ms")
        #expect(failure(["--heartbeat-interval=0"])?.description == "--heartbeat-interval must be greater than 0")
    }

    @Test func ownNameMustBeInTheCluster() {
        let error = failure(["--name", "m4", "--initial-cluster", "m1=http://localhost:2380"])
        #expect(error?.flag == "name")
        #expect(error?.description.hasPrefix("couldn't find local name \"m4\" in the initial cluster configuration") == true)
    }

    @Test func advertisedPeerURLsMustMatchTheClusterEntry() {
        let error = failure(["--name", "m1", "--initial-cluster", "m1=http://10.0.0.1:2380",
                             "--initial-advertise-peer-urls", "http://10.0.0.2:2380"])
        #expect(error?.flag == "initial-advertise-peer-urls")
    }

    @Test func peerURLBelongsToOneMember() {
        let error = failure(["--name", "a", "--initial-cluster", "a=http://localhost:2380,b=http://localhost:2380"])
        #expect(error?.flag == "initial-cluster")
    }

    @Test func oneBootstrapMethod() {
        let error = failure(["--initial-cluster", "default=http://localhost:2380",
                             "--discovery", "http://10.0.0.1:2379/v2/keys/_etcd/registry/tok"])
        #expect(error?.description.contains("multiple discovery or bootstrap flags are set") == true)
    }

    @Test func discovery() throws {
        let (config, _) = try run(["--discovery", "http://10.77.1.11:2379/v2/keys/_etcd/registry/abc",
                                   "--discovery-fallback", "exit"])
        #expect(config.discovery == "http://10.77.1.11:2379/v2/keys/_etcd/registry/abc")
        #expect(config.discoveryFallback == .exit)
        #expect(failure(["--discovery", "not a url"])?.flag == "discovery")
        #expect(failure(["--discovery", "http://10.0.0.1:2379"])?.flag == "discovery")
    }

    @Test func listenClientNeedsAdvertise() {
        #expect(failure(["--listen-client-urls", "http://0.0.0.0:2379"])?.description
            == "--advertise-client-urls is required when --listen-client-urls is set explicitly")
    }

    @Test func singleMemberWithCustomPeerURLs() throws {
        // No --initial-cluster: derived from name and advertised peer URLs.
        let (config, _) = try run(["--initial-advertise-peer-urls", "http://10.0.0.5:2380",
                                   "--listen-peer-urls", "http://10.0.0.5:2380"])
        #expect(config.initialCluster.description == "default=http://10.0.0.5:2380")
    }

    @Test func proxyMode() throws {
        let (config, _) = try run(["--proxy", "readonly", "--initial-cluster", "m1=http://10.0.0.1:2380",
                                   "--listen-client-urls", "http://127.0.0.1:2379", "--proxy-dial-timeout", "250"])
        #expect(config.proxy == .readonly)
        #expect(config.isProxy)
        #expect(config.proxyDialTimeout == 250)
        #expect(config.proxyFailureWait == 5000)
        #expect(failure(["--proxy", "sometimes"])?.description
            == "invalid value \"sometimes\" for flag -proxy: valid values are \"off\", \"readonly\", \"on\"")
        #expect(failure(["--proxy", "on"])?.flag == "proxy")
    }

    @Test func checkCollectsEveryProblem() {
        let settings = ["heartbeat-interval": KVSetting(value: "x", source: "A"),
                        "proxy": KVSetting(value: "maybe", source: "B"),
                        "listen-peer-urls": KVSetting(value: "http://h", source: "C")]
        #expect(KVConfig.check(settings).errors.count == 3)
    }
}
