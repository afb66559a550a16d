#if canImport(Glibc)
import Glibc
#endif

/// The seed of a randomized test or fault run: taken from an environment variable when set (to
/// replay a run), otherwise fresh. Always printed, so every failing run can be replayed.
public enum RunSeed {
    public static func resolve(_ what: String, variable: String) -> UInt64 {
        let given = getenv(variable).flatMap { UInt64(String(cString: $0)) }
        let seed = given ?? UInt64.random(in: 1...UInt64.max)
        print("\(what) seed \(seed) (replay with \(variable)=\(seed))")
        return seed
    }
}
