import KV
import Testing
import TestSupport
@testable import Fleet

/// Randomized and mutated unit files: the parser either returns a unit or throws its typed error
/// (never traps or hangs), and what it accepts keeps its canonical serialisation when parsed again.
@Suite struct UnitFileFuzzTests {
    static let corpus = [
        "[Unit]\nDescription=Hello\nAfter=docker.service\n\n[Service]\nExecStart=/bin/sh -c \"while true; do echo hi; sleep 1; done\"\nRestart=always\n\n[X-Fleet]\nConflicts=hello@*.service\nMachineMetadata=region=us-east\n",
        "[Service]\nExecStart=/usr/bin/foo \\\n  --flag \\\n  --other\nEnvironment=\"A=1\" \"B=2\"\n# comment\n; other comment\n[X-Fleet]\nGlobal=true\nMachineOf=%p.service\n",
        "[Unit]\nDescription=%n on %H (%m)\n[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineID=%m\nReplaces=old.service\n",
    ]

    static let pieces = ["[", "]", "=", "\\", "\n", "\r\n", "\r", "\t", " ", "#", ";", "%", "\"", "\u{0}", "é", "[X-Fleet]",
                         "MachineOf=", "Conflicts=*", "Global=", "%m", "%H", "\\\n", "[Unit", "=]", "\u{FEFF}", "\u{7f}"]

    /// Parses and, when accepted, checks the round trip and the X-Fleet options (which may throw
    /// their own typed error).
    func exercise(_ text: String) {
        let unit: UnitFile
        do { unit = try UnitFile(parsing: text) } catch {
            // The typed error must say something.
            #expect(!String(describing: error).isEmpty)
            return
        }
        // A value ending in a backslash (only possible at the end of the text) is written back as a
        // line continuation, so it cannot survive serialisation; every other unit must.
        if !unit.options.contains(where: { $0.value.hasSuffix("\\") }) {
            // Serialisation groups a repeated section's options under its first header (fleet's
            // canonical form), so compare canonical forms, not option order.
            let again = try? UnitFile(parsing: unit.serialized)
            #expect(again?.serialized == unit.serialized, "round trip changed \(text.debugDescription)")
        }
        if let name = try? UnitName("fuzz.service") {
            _ = try? XFleetOptions(unit: unit, name: name)
            _ = try? XFleetOptions(unit: unit, name: name, machineID: "0123456789abcdef", hostname: "h")
        }
    }

    @Test func mutatedUnitFilesParseOrThrowTypedErrors() {
        var rng = KV.SplitMix64(seed: RunSeed.resolve("unit-file fuzz", variable: "FUZZ_SEED"))
        for i in 0..<3000 {
            var chars = Array(Self.corpus[i % Self.corpus.count].unicodeScalars.map(Character.init))
            for _ in 0..<(1 + Int(rng.next() % 8)) {
                let at = Int(rng.next() % UInt64(chars.count + 1))
                switch rng.next() % 5 {
                case 0 where at < chars.count: chars.remove(at: at)
                case 1: chars.insert(contentsOf: Self.pieces[Int(rng.next() % UInt64(Self.pieces.count))], at: at)
                case 2 where at < chars.count: chars[at] = Character(Unicode.Scalar(UInt8(truncatingIfNeeded: rng.next() % 128)))
                case 3: chars.insert(contentsOf: chars[at..<min(chars.count, at + 30)], at: at)
                default: chars = Array(chars.prefix(at))
                }
            }
            exercise(String(chars))
        }
    }

    @Test func randomAndHugeInputsParseOrThrow() {
        var rng = KV.SplitMix64(seed: RunSeed.resolve("unit-file random", variable: "FUZZ_SEED"))
        for _ in 0..<500 {
            let n = Int(rng.next() % 400)
            let text = String((0..<n).map { _ in Self.pieces[Int(rng.next() % UInt64(Self.pieces.count))] }.joined())
            exercise(text)
        }
        exercise("[Service]\nExecStart=" + String(repeating: "x", count: 1_000_000) + "\n")
        exercise("[Service]\n" + String(repeating: "A=b\\\n", count: 20_000))
        exercise(String(repeating: "[S]\n", count: 20_000))
        exercise(String(repeating: "[", count: 100_000))
        exercise("[Service]\nExecStart=/bin/true" + String(repeating: "\\", count: 50_000))
    }
}
