#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

/// CPU time (user + system) used by a set of server processes, read from `/proc/PID/stat`.
///
/// Wall-clock throughput on a shared, loaded machine says as much about the neighbours as about
/// the server; the CPU seconds the server's processes spend per operation do not depend on how
/// busy the rest of the machine is, so the benchmark prints them next to every throughput figure.
struct ProcessCPU {
    let pids: [Int32]

    /// Parses `NAME=PID[,PID...]` (the `--cpu-pids` option).
    static func parse(_ text: String) throws -> (name: String, cpu: ProcessCPU) {
        let parts = text.split(separator: "=", maxSplits: 1)
        guard parts.count == 2 else { throw ValidationError("--cpu-pids must be NAME=PID[,PID...], got '\(text)'") }
        let pids = try parts[1].split(separator: ",").map { p -> Int32 in
            guard let pid = Int32(p), pid > 0 else { throw ValidationError("not a process id: '\(p)' in '\(text)'") }
            return pid
        }
        return (String(parts[0]), ProcessCPU(pids: pids))
    }

    /// Seconds of CPU used so far by all the processes; a process that has gone counts as 0.
    func seconds() -> Double {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        for pid in pids {
            guard let ticks = Self.ticks(pid) else { continue }
            total += Double(ticks) / ticksPerSecond
        }
        return total
    }

    /// utime + stime of `pid` in clock ticks (fields 14 and 15 of `/proc/PID/stat`).
    static func ticks(_ pid: Int32) -> UInt64? {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 2048)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
        guard let close = line.lastIndex(of: ")") else { return nil }
        let fields = line[line.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) fields[12].
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }
}
