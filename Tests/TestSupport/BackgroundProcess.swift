#if canImport(Glibc)
import Glibc
#endif

/// A long-running child (a server under test) with a clean signal state, its output in a log file.
///
/// Stopped with `terminate()` / `kill()`; `deinit` SIGKILLs it if it still runs, so a failing test
/// leaves no process behind.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logPath: String
    private var reaped = false
    private var exitStatus: Int32 = 0

    /// Starts `argv` (argv[0] resolved through PATH) with stdout and stderr appended to `logPath`.
    public init(_ argv: [String], logPath: String, environment: [String: String]? = nil) throws {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = ChildProcess.cleanSpawnAttributes()
        defer { posix_spawnattr_destroy(&attr) }
        var pid: pid_t = 0
        let rc = ChildProcess.withSpawnLock {
            ChildProcess.spawn(&pid, argv, environment: environment, actions: &actions, attributes: &attr)
        }
        guard rc == 0 else {
            throw ChildProcessError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
    }

    /// Whether the process still runs (reaps it if it ended).
    public var isRunning: Bool {
        if reaped { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            reaped = true
            exitStatus = status
            return false
        }
        return r == 0
    }

    /// Sends a signal.
    public func signal(_ sig: Int32) { if !reaped { Glibc.kill(pid, sig) } }

    /// SIGTERM, then SIGKILL after `grace` seconds; waits for the end.
    public func terminate(grace: Double = 5) {
        signal(SIGTERM)
        let deadline = ContinuousClock.now + .seconds(grace)
        while isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        kill()
    }

    /// SIGKILL and wait.
    public func kill() {
        guard !reaped else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        exitStatus = status
    }

    /// The log so far (for failure messages).
    public func log() -> String {
        guard let f = fopen(logPath, "r") else { return "" }
        defer { fclose(f) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    deinit { kill() }
}

/// A TCP port on 127.0.0.1 that is free right now, chosen below the kernel's ephemeral range
/// (32768+), so that outgoing connections of parallel tests never take it while a test restarts a
/// server on it. Ports are handed out once per process.
public func freeLoopbackPort() -> Int {
    while true {
        let candidate = PortAllocator.shared.next()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withLoopbackAddress(port: candidate) { bind(fd, $0, $1) }
        close(fd)
        if rc == 0 { return candidate }
    }
}

/// Hands out ports 20000..<32000 in turn from a random start, never the same twice in a process.
final class PortAllocator: @unchecked Sendable {
    static let shared = PortAllocator()
    private var next_: Int = 20000 + Int.random(in: 0..<12000)
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(lock, nil) }

    func next() -> Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        next_ += 1
        if next_ >= 32000 { next_ = 20000 }
        return next_
    }
}
