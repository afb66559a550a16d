#if canImport(Glibc)
    import Glibc
#endif

/// CPU time and resident memory of this process, for benchmarks that measure a cost while idle.
///
/// Whole-process figures from `getrusage` (user + system, every thread) and `/proc/self/status`;
/// idle CPU is the CPU time spent over a wall-clock window, as a percentage of one core.
struct ProcessUsage {
    /// User + system CPU seconds used by the process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    /// Resident set size in MiB (`VmRSS`), or nil when /proc is not readable.
    static func residentMiB() -> Double? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard line.hasPrefix("VmRSS:") else { continue }
            let kib = line.split(separator: " ").compactMap { Double($0) }.first
            return kib.map { $0 / 1024 }
        }
        return nil
    }

    /// Monotonic seconds.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU used during `seconds` of wall time (the caller's own work included, so keep it asleep),
    /// as a percentage of one core.
    static func cpuPercent(over seconds: Double) async -> Double {
        let cpu0 = cpuSeconds(), wall0 = now()
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        let wall = now() - wall0
        return wall > 0 ? (cpuSeconds() - cpu0) / wall * 100 : 0
    }
}
