import Foundation
import TestSupport

/// A script of etcdctl (v2) commands whose transcript (stdout, stderr, exit code per step) is
/// compared between a real etcd and our members: same topology, same commands, same output.
///
/// Only what must differ between two clusters is normalised: member IDs, URLs and names. Indexes
/// are compared as they are, because ours must count them exactly as etcd does.
enum EtcdctlTranscript {
    struct Step: CustomStringConvertible {
        var args: [String]
        var description: String { "etcdctl " + args.joined(separator: " ") }
    }

    static let keySteps: [Step] = [
        ["set", "/ctl/foo", "bar"],
        ["get", "/ctl/foo"],
        ["mk", "/ctl/foo", "x"],
        ["mk", "/ctl/new", "v"],
        ["update", "/ctl/new", "v2"],
        ["update", "/ctl/missing", "v"],
        ["set", "--swap-with-value", "bar", "/ctl/foo", "baz"],
        ["set", "--swap-with-value", "nope", "/ctl/foo", "q"],
        ["-o", "extended", "get", "/ctl/foo"],
        ["-o", "json", "get", "/ctl/foo"],
        ["mkdir", "/ctl/dir"],
        ["setdir", "/ctl/dir"],
        ["get", "/ctl/dir"],
        ["set", "/ctl/dir/a", "1"],
        ["set", "/ctl/dir/b", "2"],
        ["set", "/ctl/dir/_hidden", "h"],
        ["ls", "--sort", "/ctl/dir"],
        ["ls", "--recursive", "--sort", "-p", "/ctl"],
        ["get", "/ctl/dir/_hidden"],
        ["rm", "/ctl/dir"],
        ["rmdir", "/ctl/dir"],
        ["rm", "--recursive", "/ctl/dir"],
        ["rm", "--with-value", "nope", "/ctl/foo"],
        ["rm", "--with-value", "baz", "/ctl/foo"],
        ["get", "/ctl/foo"],
        ["mk", "--in-order", "/ctl/q", "job1"],
        ["mk", "--in-order", "/ctl/q", "job2"],
        ["ls", "--sort", "/ctl/q"],
        ["mkdir", "--ttl", "20", "/ctl/tdir"],
        ["updatedir", "--ttl", "30", "/ctl/tdir"],
        ["update", "--ttl", "5", "/ctl/new", "v3"],
        ["-o", "extended", "get", "/ctl/new"],
        ["set", "--swap-with-index", "1", "/ctl/new", "v4"],
        ["rm", "/ctl/missing"],
        ["watch", "--after-index", "4", "/ctl/foo"],
        ["cluster-health"],
    ].map(Step.init)

    /// Runs every step against `endpoint` and returns the normalised transcript.
    static func run(endpoint: String, steps: [Step] = keySteps) throws -> [String] {
        try steps.map { step in
            let r = try ChildProcess.run(["etcdctl", "--endpoints", endpoint, "--timeout", "5s"] + step.args,
                                         environment: ["ETCDCTL_API": "2", "PATH": "/usr/bin:/bin"])
            return normalise("$ \(step)\nexit \(r.status)\n\(r.stdout)\(r.stderr.isEmpty ? "" : "stderr: " + r.stderr)")
        }
    }

    /// Replaces member IDs, URLs and member names, which differ between any two clusters.
    static func normalise(_ text: String) -> String {
        var out = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            if !out.isEmpty { out += " " }
            out += normaliseWord(String(word))
        }
        return out
    }

    private static func isURLCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "." || c == ":" || c == "[" || c == "]"
    }

    private static func normaliseWord(_ word: String) -> String {
        var w = word
        if let range = w.range(of: "http://") {
            // http://host:port (possibly followed by punctuation or a newline)
            let tail = w[range.upperBound...]
            let end = tail.firstIndex(where: { c in !isURLCharacter(c) }) ?? tail.endIndex
            let head = String(w[..<range.lowerBound])
            w = head + "URL" + String(tail[end...])
        }
        // Member IDs: up to 16 hex digits (Go prints no leading zeros), possibly followed by ':' or
        // '[unstarted]:'.
        let hex = w.prefix { $0.isHexDigit }
        let rest = w.dropFirst(hex.count)
        if (12...16).contains(hex.count), rest.isEmpty || rest.hasPrefix(":") || rest.hasPrefix("[") || rest.hasPrefix("\n") {
            w = "ID" + rest
        }
        if w.hasPrefix("name=") { w = "name=NAME" }
        return w
    }
}
