import Testing

@testable import KV

#if canImport(Glibc)
import Glibc
#endif

#if os(Linux)
/// Process-level crash test: a child appends with acknowledgements printed to stdout and is SIGKILLed
/// mid-stream; every acknowledged record must be on disk when the log is reopened.
///
/// The child is this test binary itself, started with posix_spawn (clean signal mask and default
/// dispositions, unlike Foundation.Process inside Swift Testing) and a filter selecting
/// ``walCrashChildHelperProcess()``, which does the work only when the environment variable is set.
@Suite struct WALCrashTests {
    static let childDirectoryVariable = "FLEET_WAL_CRASH_CHILD_DIR"
    static let childOptions = WAL.Options(segmentSize: 32 << 10)
    /// The member's kind of log: reserved space ahead of the writes (chunks smaller than a segment,
    /// so the crash also lands in reservations, growth and rotations).
    static let reservingOptions = WAL.Options(segmentSize: 32 << 10, preallocationChunk: 12 << 10)

    static func options(reserving: Bool) -> WAL.Options { reserving ? reservingOptions : childOptions }

    @Test(arguments: [false, true]) func acknowledgedRecordsSurviveSIGKILL(reserving: Bool) throws {
        let dir = TemporaryDirectory("walcrash")
        defer { dir.remove() }
        let options = Self.options(reserving: reserving)
        var acknowledged: [String] = []
        for round in 0..<3 {
            let acks = try runChildUntilKilled(
                directory: dir.path, round: round, killAfter: 200 + 150 * round, reserving: reserving)
            #expect(acks.count >= 200 + 150 * round, "round \(round): the child acknowledged too little")
            acknowledged += acks
            // The child is dead: the lock is free, and replay must succeed (a torn tail is allowed).
            let (wal, _) = try WAL.open(directory: dir.path, options: options)
            try wal.close()
            let stored = Set(
                try WAL.records(in: dir.path, options: options).compactMap { stored -> String? in
                    guard case .metadata(let bytes) = stored.record else { return nil }
                    return String(decoding: bytes.prefix { $0 != 0x61 }, as: UTF8.self)  // drop the padding
                })
            let missing = acknowledged.filter { !stored.contains($0) }
            #expect(missing.count == 0, "round \(round): acknowledged but missing: \(missing.prefix(10))")
        }
    }

    /// Only does something inside the child process started by ``acknowledgedRecordsSurviveSIGKILL()``.
    @Test func walCrashChildHelperProcess() async throws {
        guard let raw = getenv(Self.childDirectoryVariable) else { return }
        let directory = String(cString: raw)
        let round = String(cString: getenv("FLEET_WAL_CRASH_ROUND") ?? strdup("0"))
        let reserving = getenv("FLEET_WAL_CRASH_RESERVING").map { String(cString: $0) } == "1"
        let (wal, _) = try WAL.open(directory: directory, options: Self.options(reserving: reserving))
        let committer = GroupCommitter(wal: wal)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var sequence = 0
                    while true {
                        let label = "r\(round)-w\(writer)-\(sequence)"
                        let record = WALRecord.metadata(
                            Array(label.utf8) + [UInt8](repeating: 0x61, count: sequence % 300))
                        if writer == 0 {
                            try wal.appendAndSync([record])  // the synchronous path, interleaved
                        } else {
                            try await committer.append(record)
                        }
                        let line = Array("ACK \(label)\n".utf8)
                        _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                        sequence += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Spawns the child, reads acknowledgements until `killAfter` arrived, SIGKILLs it, and returns
    /// every acknowledgement it printed before dying.
    func runChildUntilKilled(directory: String, round: Int, killAfter: Int, reserving: Bool) throws -> [String] {
        var exe = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &exe, exe.count - 1)
        try #require(n > 0)
        let executable = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)

        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGKILL] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let arguments = [executable, "--testing-library", "swift-testing", "--filter", "walCrashChildHelperProcess"]
        var environment: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            environment.append(String(cString: entry))
            cursor += 1
        }
        environment.append("\(Self.childDirectoryVariable)=\(directory)")
        environment.append("FLEET_WAL_CRASH_ROUND=\(round)")
        environment.append("FLEET_WAL_CRASH_RESERVING=\(reserving ? 1 : 0)")
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(fds[1])
        try #require(rc == 0, "posix_spawn failed: \(rc)")
        defer { close(fds[0]) }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        func countAcks() -> Int { output.reduce(0) { $1 == 10 ? $0 + 1 : $0 } }
        let deadline = time(nil) + 120
        var killed = false
        while true {
            if !killed && (countAcks() >= killAfter || time(nil) > deadline) {
                kill(pid, SIGKILL)
                killed = true
            }
            var poller = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 1000) >= 0 || errno == EINTR else { break }
            let got = read(fds[0], &buffer, buffer.count)
            if got == 0 { break }  // EOF: the child is gone
            if got > 0 { output += buffer[0..<got] }
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(killed)
        let text = String(decoding: output, as: UTF8.self)
        // A line cut off by the kill was never completely printed: it does not count.
        return text.split(separator: "\n", omittingEmptySubsequences: true).dropLast(text.hasSuffix("\n") ? 0 : 1)
            .filter { $0.hasPrefix("ACK ") }.map { String($0.dropFirst(4)) }
    }
}
#endif
