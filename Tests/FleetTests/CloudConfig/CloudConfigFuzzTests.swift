import KV
import Testing
import TestSupport
@testable import Fleet

/// Seeded fuzzing of the cloud-config reader and validator beyond the fixed mutations of
/// `CloudConfigRobustnessTests`: random bytes (also gzip-looking ones), structural YAML noise,
/// deep nesting and huge documents. Every input yields a report with sane line numbers, never a
/// trap or a hang.
@Suite struct CloudConfigFuzzTests {
    static let pieces = ["#cloud-config\n", "coreos:\n", "  etcd2:\n", "    name: x\n", "  units:\n", "    - name: a.service\n",
                         "      command: start\n", "      content: |\n", "write_files:\n", "  - path: /etc/x\n",
                         "    encoding: gzip+base64\n", "    content: H4sI\n", "    permissions: 0999\n", ":", "-", "- ",
                         "{", "}", "[", "]", "&a ", "*a", "!!binary ", "\"", "'", "|", ">", "\t", "\n", "  ", "#!/bin/sh\n",
                         "%", "\u{0}", "é", "\u{FEFF}", "ssh_authorized_keys:\n", "hostname: ", "users:\n", "  - name: core\n"]

    func exercise(_ text: String) {
        let report = CloudConfig.validate(text: text)
        for diagnostic in report.diagnostics {
            #expect(diagnostic.line >= 1, "diagnostic without a line for \(text.prefix(80).debugDescription)")
            #expect(!diagnostic.message.isEmpty)
        }
        if report.isValid {
            _ = try? BootPlan.make(for: UserData(text: text), addresses: HostAddresses.placeholders)
        }
    }

    @Test func randomStructuredDocuments() {
        var rng = KV.SplitMix64(seed: RunSeed.resolve("cloud-config fuzz", variable: "FUZZ_SEED"))
        for _ in 0..<600 {
            let n = 1 + Int(rng.next() % 40)
            exercise((0..<n).map { _ in Self.pieces[Int(rng.next() % UInt64(Self.pieces.count))] }.joined())
        }
    }

    @Test func randomBytesIncludingGzipHeaders() {
        var rng = KV.SplitMix64(seed: RunSeed.resolve("cloud-config bytes", variable: "FUZZ_SEED"))
        for i in 0..<400 {
            var bytes = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if i % 2 == 0 { bytes.insert(contentsOf: [0x1f, 0x8b, 0x08, 0x00], at: 0) }  // claims to be gzip
            let userData = UserData(bytes: bytes)
            let report = CloudConfig.validate(userData)
            for diagnostic in report.diagnostics { #expect(diagnostic.line >= 1) }
        }
    }

    @Test func deepAndHugeDocuments() {
        exercise("#cloud-config\n" + String(repeating: "[", count: 5000))
        exercise("#cloud-config\n" + String(repeating: "{a: ", count: 2000))
        exercise("#cloud-config\n" + (0..<200).map { String(repeating: " ", count: $0) + "- x:\n" }.joined())
        exercise("#cloud-config\nhostname: " + String(repeating: "h", count: 1_000_000) + "\n")
        exercise("#cloud-config\nwrite_files:\n" + String(repeating: "  - path: /a\n    content: x\n", count: 5000))
        exercise("#cloud-config\na: &a [*a]\n")
        exercise("#cloud-config\n" + (0..<50).map { "a\($0): &a\($0) [" + String(repeating: "*a\(max(0, $0 - 1)),", count: 8) + "]\n" }.joined())
    }
}
