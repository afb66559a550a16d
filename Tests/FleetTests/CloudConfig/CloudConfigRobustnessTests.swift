import Testing
@testable import Fleet

/// Mangled input must produce diagnostics, never a crash or a hang.
@Suite struct CloudConfigRobustnessTests {
    /// A tiny deterministic generator so failures reproduce.
    struct LCG {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    @Test(arguments: [ReferenceUserData.badInput, ReferenceUserData.vagrantSample, ReferenceUserData.fleetFunctional,
                      ReferenceUserData.fleetdCustomUnit, ReferenceUserData.docSnippets])
    func mutatedUserDataNeverCrashes(_ original: String) {
        var rng = LCG(state: UInt64(original.count))
        let inserts: [Character] = [":", "-", "\t", " ", "\n", "[", "{", "&", "*", "!", "\"", "'", "|", ">", "#", "$"]
        for _ in 0..<60 {
            var chars = Array(original)
            for _ in 0...rng.next(3) {
                let position = rng.next(chars.count)
                switch rng.next(3) {
                case 0: chars.remove(at: position)
                case 1: chars.insert(inserts[rng.next(inserts.count)], at: position)
                default: chars[position] = inserts[rng.next(inserts.count)]
                }
            }
            let text = String(chars)
            let report = CloudConfig.validate(text: text)
            for diagnostic in report.diagnostics {
                #expect(diagnostic.line >= 1)
            }
            if report.isValid {
                _ = try? BootPlan.make(for: UserData(text: text), addresses: HostAddresses.placeholders)
            }
        }
    }

    @Test func corruptedGzipNeverCrashes() {
        let sample = ContentDecoder.base64("H4sIAAbMBGsC/4XWPU4DQRAF4ZxT7AVA/Xpm+uc4yLKEAxbJxpyfAG24VF7Jl9Vzv32/mtnb43r/uV2u2/25P7avfft8v3zc9utmL8+/RKeJjsRPEz+ScZqMI5mnyTySdZqsI4nTJI4kGV2MbkTLEC0hWo5oDURrIloL0QpGJ6OL0Y1oN0S7EO2OaB+I9oloX4j2YHQyuhjdiB6G6CFED0f0GIgeE9FjIXoEo5PRxehG9DRETyF6OqLnQPSciJ4L0TMYnYwuRjeilyF6CdHLEb0GotdE9FqIXsHoZHQxuhEdhugQosMRHQPRMREdC9ERjE5GF6Mb0clHlnxkyUeWfGTJR5Z8ZMlHlnxkyUeWfGTFR1Z8ZMVHVnxkxUdWfGTFR1Z8ZMVHVnxkzUfWfGTNR9Z8ZM1H1nxkzUfWfGTNR9Z4ZDI8MhkemQyPTIZHJsMjk+GRyYLRyehiNB6ZhEcm4ZFJeGQSHpmERybhkUnB6GR0Mfq/I/sFPOVdT2gQAAA=")!
        var rng = LCG(state: 7)
        var refused = 0
        for _ in 0..<100 {
            var bytes = sample
            for _ in 0...rng.next(4) { bytes[10 + rng.next(bytes.count - 10)] = UInt8(rng.next(256)) }
            if (try? Gzip.decompress(bytes)) == nil { refused += 1 }
        }
        #expect(refused > 80)  // the CRC catches nearly every corruption that still inflates
        for length in [0, 5, 17, 18, 40, sample.count - 1] {
            #expect(throws: Gzip.Failure.self) { try Gzip.decompress(Array(sample.prefix(length))) }
        }
    }
}
