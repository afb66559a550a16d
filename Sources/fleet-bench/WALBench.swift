import ArgumentParser
import KV
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `fleet-bench wal`: group-commit throughput of the write-ahead log.
///
/// For each writer count, that many concurrent tasks append records through a `GroupCommitter` for a
/// fixed time; each append returns only once durable. Reports records/s, fsyncs/s, records per fsync
/// and append latency. Then the synchronous batch API (one thread, `appendAndSync` of N records) for
/// the same N. Run a release build on the disk the data directory will live on: tmpfs makes fsync free.
struct WALBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal",
        abstract: "WAL group commit: fsyncs/s and records/s at several concurrent writer counts.")

    @Option(help: "Comma-separated concurrent writer counts.")
    var writers: String = "1,16,64"

    @Option(help: "Seconds per measurement.")
    var duration: Double = 3

    @Option(help: "Entry payload size in bytes.")
    var recordSize: Int = 128

    @Option(help: "Parent directory for the temporary WAL directories (default /tmp).")
    var directory: String = "/tmp"

    func run() async throws {
        let counts = writers.split(separator: ",").compactMap { Int($0.filter { $0 != " " }) }
        print("WAL group commit benchmark: \(recordSize)-byte entries, \(duration) s per row, under \(directory)")
        print("mode          writers/batch   records/s     fsyncs/s   records/fsync   p50 ms   p99 ms")
        for count in counts {
            try await groupCommit(writers: count)
        }
        for count in counts {
            try syncBatches(batch: count)
        }
    }

    func groupCommit(writers count: Int) async throws {
        let dir = try makeDirectory()
        defer { removeTree(dir) }
        let (wal, _) = try WAL.open(directory: dir)
        let committer = GroupCommitter(wal: wal)
        let payload = [UInt8](repeating: 0xAB, count: recordSize)
        let nextIndex = IndexCounter()
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(duration * 1000))
        let start = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<count {
                group.addTask {
                    var local: [Duration] = []
                    while clock.now < end {
                        let index = nextIndex.value.add(1, ordering: .relaxed).oldValue
                        let began = clock.now
                        try await committer.append(.entry(WALEntry(term: 1, index: index, data: payload)))
                        local.append(clock.now - began)
                    }
                    return local
                }
            }
            var all: [Duration] = []
            for try await local in group { all += local }
            return all
        }
        let elapsed = clock.now - start
        committer.shutdown()
        let stats = wal.statistics
        try wal.close()
        report("group commit", count, stats, elapsed, latencies)
    }

    func syncBatches(batch: Int) throws {
        let dir = try makeDirectory()
        defer { removeTree(dir) }
        let (wal, _) = try WAL.open(directory: dir)
        let payload = [UInt8](repeating: 0xAB, count: recordSize)
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(duration * 1000))
        var index: UInt64 = 1
        var latencies: [Duration] = []
        while clock.now < end {
            let records = (0..<batch).map { i in
                WALRecord.entry(WALEntry(term: 1, index: index + UInt64(i), data: payload))
            }
            index += UInt64(batch)
            let began = clock.now
            try wal.appendAndSync(records)
            latencies.append(clock.now - began)
        }
        let elapsed = clock.now - start
        let stats = wal.statistics
        try wal.close()
        report("sync batch", batch, stats, elapsed, latencies)
    }

    func report(_ mode: String, _ n: Int, _ stats: WAL.Statistics, _ elapsed: Duration, _ latencies: [Duration]) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sorted = latencies.sorted()
        func ms(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
            return (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) * 1000
        }
        func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        func fixed(_ v: Double, _ digits: Int) -> String {
            let scale = Double((0..<digits).reduce(1) { acc, _ in acc * 10 })
            let rounded = (v * scale).rounded() / scale
            return digits == 0 ? String(Int(rounded)) : String(rounded)
        }
        print(
            mode.padding(toLength: 12, withPad: " ", startingAt: 0)
                + pad(String(n), 15)
                + pad(fixed(Double(stats.records) / seconds, 0), 12)
                + pad(fixed(Double(stats.syncs) / seconds, 0), 13)
                + pad(fixed(Double(stats.records) / Double(max(stats.syncs, 1)), 1), 16)
                + pad(fixed(ms(0.5), 2), 9)
                + pad(fixed(ms(0.99), 2), 9))
    }

    func makeDirectory() throws -> String {
        var template = Array("\(directory)/fleet-walbench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ValidationError("cannot create a directory under \(directory)")
        }
        return String(cString: made)
    }

    func removeTree(_ path: String) {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: &entry.pointee.d_name) {
                    String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

extension String {
    fileprivate func padding(toLength length: Int, withPad pad: String, startingAt: Int) -> String {
        count >= length ? self : self + String(repeating: pad, count: length - count)
    }
}

/// Hands out entry indexes to concurrent writers.
private final class IndexCounter: Sendable {
    let value = Atomic<UInt64>(1)
}
