import Foundation
import Testing
import TestSupport

/// The built `fleetctl` executable: argument handling, help, exit codes and error lines, as a
/// script would see them. Talks to no cluster: the endpoint is a socket path nobody listens on.
@Suite struct FleetctlBinaryTests {
    static let repositoryRoot: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)  // Tests/FleetTests/CLI/FleetctlBinaryTests.swift
        return parts.joined(separator: "/")
    }()
    static let binary = repositoryRoot + "/.build/debug/fleetctl"
    static let deadSocket = "unix:///tmp/fleetctl-tests-no-such-dir/fleet.sock"

    func run(_ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build fleetctl first")
        var environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        environment.merge(env) { $1 }
        return try ChildProcess.run([Self.binary] + args, environment: environment)
    }

    @Test func versionForms() throws {
        for args in [["-v"], ["version"], ["--version"]] {
            // The environment's global flags are not forced on commands that take none.
            let r = try run(args, env: ["FLEETCTL_ENDPOINT": Self.deadSocket, "FLEETCTL_DEBUG": "1"])
            #expect(r.status == 0, "\(args): \(r)")
            #expect(r.stdout.hasPrefix("fleetctl version "), "\(args): \(r)")
        }
    }

    @Test func helpDocumentsExitCodesAndCommands() throws {
        let r = try run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("EXIT STATUS:"))
        #expect(r.stdout.contains("\n  2  usage error (unknown command or flag, bad argument, unsupported flag)\n"))
        for command in ["list-machines", "list-units", "list-unit-files", "submit", "restart", "journal", "ssh"] {
            #expect(r.stdout.contains(command), "help lacks \(command)")
        }
        let sub = try run(["help", "list-m"])  // abbreviations work after help too
        #expect(sub.status == 0, "\(sub)")
        #expect(sub.stdout.contains("--no-legend"))
        #expect(sub.stdout.contains("-l, --full"))
    }

    @Test func usageErrorsExitTwoWithUsageText() throws {
        let unknownFlag = try run(["list-machines", "--frobnicate"])
        #expect(unknownFlag.status == 2)
        #expect(unknownFlag.stderr.contains("--frobnicate"))
        #expect(unknownFlag.stderr.contains("Usage: fleetctl list-machines"))
        let unknownCommand = try run(["frobnicate"])
        #expect(unknownCommand.status == 2)
        #expect(unknownCommand.stderr.hasPrefix("unknown command \"frobnicate\" for fleetctl"))
        let missing = try run(["start"])
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("Error: Missing expected argument '<units> ...'"))
        #expect(missing.stderr.contains("Usage: fleetctl start"))
        let none = try run([])
        #expect(none.status == 2)
        let ambiguous = try run(["list"])
        #expect(ambiguous.status == 2)
        #expect(ambiguous.stderr.hasPrefix("ambiguous command \"list\""))
        let negative = try run(["start", "--block-attempts=-1", "a"])
        #expect(negative.status == 2)
    }

    @Test func refusedFlagsNameTheFlag() throws {
        let sign = try run(["submit", "--sign", "a.service"])
        #expect(sign.status == 2)
        #expect(sign.stderr.hasPrefix("flag --sign is not supported"))
        let https = try run(["list-units", "--endpoint=https://"])
        #expect(https.status == 2)
        #expect(https.stderr.hasPrefix("endpoint https://: no usable host and port"), "\(https)")
        let tunnel = try run(["list-units"], env: ["FLEETCTL_TUNNEL": "bastion:22"])
        #expect(tunnel.status == 2)
        #expect(tunnel.stderr.hasPrefix("FLEETCTL_TUNNEL is set, but --tunnel is not supported"))
    }

    @Test func unreachableEndpointExitsThreeWithOneLine() throws {
        // -l, -f and abbreviations parse (fleet rejected -l and -f); then the dead endpoint fails.
        for args in [["list-m", "-l"], ["list-units", "-l", "--no-legend"], ["journal", "-f", "hello"],
                     ["start", "--no-block", "hello"]] {
            let r = try run(args + ["--endpoint", Self.deadSocket])
            #expect(r.status == 3, "\(args): \(r)")
            #expect(r.stdout.isEmpty)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(args): \(r)")
            #expect(r.stderr.contains("cannot reach fleet API at \(Self.deadSocket)"), "\(args): \(r)")
        }
    }

    @Test func globalFlagsBeforeTheCommand() throws {
        let r = try run(["--endpoint", Self.deadSocket, "--request-timeout=1", "list-units"])
        #expect(r.status == 3, "\(r)")
        #expect(r.stderr.contains(Self.deadSocket))
    }

    @Test func debugLogsEachCallFromFlagOrEnvironment() throws {
        for (args, env) in [(["list-machines", "--debug"], [:]), (["list-machines"], ["FLEETCTL_DEBUG": "1"])] {
            let r = try run(args + ["--endpoint", Self.deadSocket], env: env)
            #expect(r.status == 3, "\(r)")
            #expect(r.stderr.hasPrefix("DEBUG: GET machines\nDEBUG: GET machines: cannot reach fleet API at "), "\(r)")
        }
    }

    @Test func endpointFromEnvironment() throws {
        let r = try run(["list-unit-files"], env: ["FLEETCTL_ENDPOINT": Self.deadSocket])
        #expect(r.status == 3, "\(r)")
        #expect(r.stderr.contains(Self.deadSocket))
        let bad = try run(["list-unit-files"], env: ["FLEETCTL_REQUEST_TIMEOUT": "soon"])
        #expect(bad.status == 2, "\(bad)")
    }

    @Test func completionScripts() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try run(["completion", shell])
            #expect(r.status == 0, "\(shell): \(r)")
            #expect(r.stdout.contains("list-unit-files"), "\(shell)")
        }
        #expect(try run(["completion", "tcsh"]).status == 2)
    }
}
