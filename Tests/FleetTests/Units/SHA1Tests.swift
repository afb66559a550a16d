import Testing
@testable import Fleet

@Suite struct SHA1Tests {
    func hex(_ bytes: [UInt8]) -> String { UnitHash(bytes: bytes)!.hex }

    @Test func fipsVectors() {
        #expect(hex(SHA1.hash("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(SHA1.hash("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(
            hex(SHA1.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(
            hex(SHA1.hash(
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            )) == "a49b2446a02c645bf419f995b67091253a04a259")
        #expect(hex(SHA1.hash("The quick brown fox jumps over the lazy dog")) == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
    }

    @Test func millionAs() {
        var sha = SHA1()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { sha.update(chunk) }
        #expect(hex(sha.finalize()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func incrementalEqualsOneShot() {
        // Lengths around the 55/56/64-byte padding boundaries, fed in uneven pieces.
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var sha = SHA1()
            var i = 0
            var step = 1
            while i < data.count {
                let end = min(data.count, i + step)
                sha.update(data[i..<end])
                i = end
                step = step % 13 + 3
            }
            #expect(sha.finalize() == SHA1.hash(data), "length \(length)")
        }
    }
}
