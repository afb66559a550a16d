import Testing
@testable import Fleet

private func report(_ text: String) -> CloudConfigReport { CloudConfig.validate(text: text) }

private func lines(_ report: CloudConfigReport) -> [String] { report.diagnostics.map(\.description) }

@Suite struct CloudConfigFormatTests {
    @Test func headerDetection() {
        #expect(UserData(text: "#cloud-config\nhostname: a\n").format == .cloudConfig)
        #expect(UserData(text: "#cloud-config   \r\nhostname: a\n").format == .cloudConfig)
        #expect(UserData(text: "#cloud-config").format == .cloudConfig)
        #expect(UserData(text: "#!/bin/bash\necho hi\n").format == .script)
        #expect(UserData(text: "").format == .empty)
        #expect(UserData(text: "  \n").format == .empty)
        #expect(UserData(text: "{\"ignition\": {\"version\": \"2.0.0\"}}").format == .ignition)
        #expect(UserData(text: "{\"ignitionVersion\": 1}").format == .ignition)
        #expect(UserData(text: "# cloud-config\nhostname: a\n").format == .unrecognized)
        #expect(UserData(text: "hostname: a\n").format == .unrecognized)
    }

    @Test func unrecognizedIsAnErrorOnLineOne() {
        let r = report("hostname: a\n")
        #expect(lines(r) == ["line 1: error: must be \"#cloud-config\" or begin with \"#!\""])
        #expect(r.exitStatus == 1)
    }

    @Test func scriptsEmptyAndIgnition() {
        #expect(report("#!/bin/sh\nexit 0\n").exitStatus == 0)
        #expect(report("").exitStatus == 0)
        let ignition = report("{\"ignition\": {\"version\": \"2.0.0\"}}")
        #expect(ignition.exitStatus == 2)
        #expect(ignition.isValid)
    }

    @Test func gzipUserData() throws {
        // "#cloud-config\nhostname: gz\n" gzip-compressed.
        let bytes = ContentDecoder.base64("H4sIAAAAAAACA1NOzskvTdFNzs9Ly0znysgvLslLzE21Ukiv4gIAadGHBRsAAAA=")!
        let data = UserData(bytes: bytes)
        #expect(data.wasCompressed)
        #expect(data.format == .cloudConfig)
        #expect(CloudConfig.validate(data).exitStatus == 0)
        #expect(try CloudConfig.parse(data).config.hostname == "gz")
        let corrupt = UserData(bytes: Array(bytes.prefix(20)))
        #expect(CloudConfig.validate(corrupt).diagnostics.map(\.description)
            == ["line 1: error: gzip-compressed user-data cannot be decompressed: unexpected end of compressed data"])
        #expect(UserData(bytes: [0x23, 0xff, 0xfe]).problem == "user-data is not UTF-8 text")
    }

    @Test func minimalFileIsClean() throws {
        let r = report("#cloud-config\nhostname: coreos1\n")
        #expect(r.diagnostics.isEmpty)
        #expect(r.exitStatus == 0)
        #expect(r.text == "valid cloud-config\n")
        #expect(report("#cloud-config\n").diagnostics.isEmpty)
        #expect(try CloudConfig.parse(UserData(text: "#cloud-config\n---\n")).config == CloudConfig())
    }
}

@Suite struct CloudConfigDiagnosticTests {
    @Test func referenceBadInputInFileOrder() {
        let r = report(ReferenceUserData.badInput)
        #expect(lines(r) == [
            "line 2: error: hostname: expected a string, got a list",
            "line 7: error: coreos.etcd2.proxy: expected one of on, off, readonly, got sometimes",
            "line 10: error: coreos.fleet.verbosity: expected a whole number, got high",
            "line 12: warning: coreos.fleet.bogus_option: unrecognized key \"bogus_option\"",
            "line 15: error: coreos.units[0].command: expected one of start, stop, restart, reload, try-restart, reload-or-restart, reload-or-try-restart, got launch",
            "line 16: error: coreos.units[0].enable: expected true or false, got yes-please",
            "line 19: info: coreos.write_files: write_files doesn't belong under coreos (this section is ignored; move it to the top level)",
            "line 22: error: write_files[0].path: file cannot be written to a read-only filesystem",
            "line 23: error: write_files[0].permissions: expected octal permissions like \"0644\", got 0999",
            "line 25: error: write_files[0].content: content cannot be decoded as \"base64\": not valid base64",
            "line 28: error: ssh_authorized_keys: expected a list of strings, got ssh-rsa AAAA",
            "line 31: error: users[0].groups: expected a list of strings, got docker",
        ])
        #expect(r.exitStatus == 1)
        #expect(r.text.hasSuffix("invalid: 10 errors, 2 warnings\n"))
    }

    @Test func typeRulesFromTheReference() {
        // reboot-strategy: off (a YAML bool) is the string "off"; an int is fine for a float field.
        let r = report("""
            #cloud-config
            coreos:
              update:
                reboot-strategy: off
              fleet:
                engine_reconcile_interval: 2
                etcd_request_timeout: 1.5
            """)
        #expect(r.diagnostics.isEmpty)
    }

    @Test func wrongTypesAreErrorsNeverZero() throws {
        let text = """
            #cloud-config
            coreos:
              etcd2:
                heartbeat-interval: "100"
                debug: "true"
              fleet:
                agent_ttl: 12abc
                token_limit: 1.5
                disable_engine: 1
              units:
                - name: a.service
                  runtime: maybe
            """
        #expect(lines(report(text)) == [
            "line 4: error: coreos.etcd2.heartbeat_interval: expected a whole number, got 100",
            "line 5: error: coreos.etcd2.debug: expected true or false, got true",
            "line 7: error: coreos.fleet.agent_ttl: expected a duration like \"30s\", got 12abc",
            "line 8: error: coreos.fleet.token_limit: expected a whole number, got 1.5",
            "line 9: error: coreos.fleet.disable_engine: expected true or false, got 1",
            "line 12: error: coreos.units[0].runtime: expected true or false, got maybe",
        ])
        #expect(throws: CloudConfigInvalid.self) { try CloudConfig.parse(UserData(text: text)) }
    }

    @Test func unknownKeysAreWarningsEverywhere() {
        let r = report("""
            #cloud-config
            hostnme: a
            coreos:
              etcd2:
                nmae: x
              units:
                - name: a.service
                  comand: start
                  drop-ins:
                    - name: 10-a.conf
                      contnet: x
            users:
              - name: bob
                shel: /bin/sh
            """)
        #expect(lines(r) == [
            "line 2: warning: hostnme: unrecognized key \"hostnme\"",
            "line 5: warning: coreos.etcd2.nmae: unrecognized key \"nmae\"",
            "line 8: warning: coreos.units[0].comand: unrecognized key \"comand\"",
            "line 11: warning: coreos.units[0].drop_ins[0].contnet: unrecognized key \"contnet\"",
            "line 14: warning: users[0].shel: unrecognized key \"shel\"",
        ])
        #expect(r.exitStatus == 2)
        #expect(r.isValid)
    }

    @Test func malformedYAMLReportsItsLine() {
        let tab = report("#cloud-config\ncoreos:\n  units:\n\t- name: a.service\n")
        #expect(tab.diagnostics.count == 1)
        #expect(tab.diagnostics[0].line == 4)
        #expect(tab.diagnostics[0].severity == .error)
        let colon = report("#cloud-config\nhostname: a\nusers\n  - name: b\n")
        #expect(colon.diagnostics.count == 1)
        #expect(colon.diagnostics[0].line >= 3)
        let token = report("#cloud-config\nhostname: a\nwrite_files: @x\n")
        #expect(token.diagnostics.map(\.line) == [3])
        #expect(token.diagnostics[0].message.contains("cannot start any token"))
    }

    @Test func duplicateKeysAfterDashNormalisation() {
        let r = report("#cloud-config\ncoreos:\n  fleet:\n    public-ip: 10.0.0.1\n    public_ip: 10.0.0.2\n")
        #expect(lines(r) == ["line 5: error: coreos.fleet.public_ip: duplicate key (first set on line 4; '-' and '_' are the same in keys)"])
        let exact = report("#cloud-config\nhostname: a\nhostname: b\n")
        #expect(lines(exact) == ["line 3: error: duplicate key \"hostname\" (first set on line 2)"])
    }

    @Test func etcd2SectionIsCheckedAsAKVConfiguration() {
        let r = report("""
            #cloud-config
            coreos:
              etcd2:
                name: kv1
                heartbeat-interval: 300
                election-timeout: 1000
                initial-cluster: kv2=http://10.0.0.2:2380
                listen-client-urls: http://0.0.0.0:2379/
                initial-cluster-state: joining
            """)
        #expect(lines(r) == [
            "line 4: error: coreos.etcd2.name: couldn't find local name \"kv1\" in the initial cluster configuration (--initial-cluster names: kv2)",
            "line 6: error: coreos.etcd2.election_timeout: --election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]",
            "line 8: error: coreos.etcd2.listen_client_urls: URL must not contain a path: http://0.0.0.0:2379/",
            "line 8: error: coreos.etcd2.listen_client_urls: --advertise-client-urls is required when --listen-client-urls is set explicitly",
            "line 9: error: coreos.etcd2.initial_cluster_state: valid values are \"new\", \"existing\", got joining",
        ])
    }

    @Test func variablesValidateAsAddresses() {
        let r = report("""
            #cloud-config
            coreos:
              etcd2:
                advertise-client-urls: http://$public_ipv4:2379
                listen-client-urls: http://$public_ipv4
              fleet:
                public-ip: $private_ipv4
            """)
        #expect(lines(r) == [
            "line 5: error: coreos.etcd2.listen_client_urls: URL address does not have the form \"host:port\": http://$public_ipv4",
        ])
    }

    @Test func writeFilesChecks() {
        let r = report("""
            #cloud-config
            write_files:
              - content: x
              - path: relative/file
              - path: /etc/a
                encoding: rot13
              - path: /etc/b
                encoding: gzip
                content: not gzip
              - path: /etc/c
                permissions: 0644
              - path: /etc/d
                permissions: 755
            """)
        #expect(lines(r) == [
            "line 3: error: write_files[0]: a file needs a path",
            "line 4: error: write_files[1].path: expected an absolute path, got relative/file",
            "line 6: error: write_files[2].encoding: expected one of base64, b64, gz, gzip, gz+base64, gzip+base64, gz+b64, gzip+b64, got rot13",
            "line 9: error: write_files[3].content: content cannot be decoded as \"gzip\": not gzip data (bad magic or too short) (give gzip data with the YAML !!binary tag, or use encoding gzip+base64)",
        ])
    }

    @Test func unitChecks() {
        let r = report("""
            #cloud-config
            coreos:
              units:
                - command: start
                - name: nodot
                - name: 00-eth0.network
                  command: start
                - name: a.service
                  drop-ins:
                    - content: x
                    - name: 10-a.txt
            manage_etc_hosts: everywhere
            """)
        #expect(lines(r) == [
            "line 4: warning: coreos.units[0]: unit has no name and is skipped",
            "line 5: error: coreos.units[1].name: expected a unit name like \"foo.service\", got nodot",
            "line 7: info: coreos.units[2].command: ignored for network units; systemd-networkd is restarted instead",
            "line 10: error: coreos.units[3].drop_ins[0]: a drop-in needs a name like \"50-custom.conf\"",
            "line 11: warning: coreos.units[3].drop_ins[1].name: systemd only reads drop-ins ending in .conf",
            "line 12: error: manage_etc_hosts: expected one of localhost, got everywhere",
        ])
    }

    @Test func validateFileGivesTextAndStatus() {
        let missing = CloudConfig.validateFile(atPath: "/nonexistent/user-data")
        #expect(missing.exitStatus == 1)
    }
}

@Suite struct CloudConfigYAMLEdgeTests {
    @Test func anchorsAndAliasesResolve() throws {
        let text = """
            #cloud-config
            coreos:
              units:
                - name: a.service
                  content: &unit |
                    [Service]
                    ExecStart=/bin/true
                - name: b.service
                  content: *unit
            """
        let report = CloudConfig.validate(text: text)
        #expect(report.diagnostics.isEmpty, "\(report.text)")
        let config = try CloudConfig.parse(UserData(text: text)).config
        #expect(config.units.map(\.content) == ["[Service]\nExecStart=/bin/true\n", "[Service]\nExecStart=/bin/true\n"])
    }

    @Test func secondDocumentIsAnError() {
        let report = CloudConfig.validate(text: "#cloud-config\nhostname: a\n---\nhostname: b\n")
        #expect(report.errors.count == 1)
        #expect(report.errors.first?.line == 3)
    }

    @Test func topLevelMustBeAMapping() {
        let report = CloudConfig.validate(text: "#cloud-config\n- a\n- b\n")
        #expect(report.diagnostics.map(\.description) == ["line 2: error: expected a mapping, got a list"])
    }

    @Test func emptyValuesAreWarningsNotZeros() throws {
        let text = "#cloud-config\nhostname:\ncoreos:\n  fleet:\n    verbosity: ~\n"
        let report = CloudConfig.validate(text: text)
        #expect(report.diagnostics.map(\.description) == [
            "line 2: warning: hostname: has no value; ignored",
            "line 5: warning: coreos.fleet.verbosity: has no value; ignored",
        ])
        let config = try CloudConfig.parse(UserData(text: text)).config
        #expect(config.hostname == nil)
        #expect(config.fleet == [])
    }
}
