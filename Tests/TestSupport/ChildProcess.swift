#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a finished child process.
public struct ProcessResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public var succeeded: Bool { status == 0 }
    public var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// A failure to start a child process, or a command that failed where success was required.
public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Runs child processes with a clean signal mask and default signal handlers.
///
/// Foundation.Process inside Swift Testing starts children with SIGTERM blocked, so they (and
/// anything they start, such as systemd-nspawn) ignore SIGTERM. posix_spawn with
/// POSIX_SPAWN_SETSIGMASK / SETSIGDEF gives every child an ordinary signal state.
public enum ChildProcess {
    private static let spawnLock = SpawnLock()

    /// Runs `argv` (argv[0] resolved through PATH) to completion and captures its output.
    public static func run(_ argv: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        precondition(!argv.isEmpty)
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        // Pipes are made and marked close-on-exec under one lock with the spawn, so a child
        // spawned by another thread never inherits them (it would hold our pipes open).
        spawnLock.lock()
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            spawnLock.unlock()
            throw ChildProcessError(description: "pipe failed: errno \(errno)")
        }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        var attr = cleanSpawnAttributes()
        defer { posix_spawnattr_destroy(&attr) }
        var pid: pid_t = 0
        let rc = spawn(&pid, argv, environment: environment, actions: &actions, attributes: &attr)
        close(outPipe[1])
        close(errPipe[1])
        spawnLock.unlock()
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        guard rc == 0 else {
            throw ChildProcessError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        let (out, err) = drain(outPipe[0], errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProcessResult(status: code, stdout: out, stderr: err)
    }

    /// Runs `argv` and throws unless it exits 0.
    @discardableResult
    public static func check(_ argv: [String]) throws -> ProcessResult {
        let result = try run(argv)
        guard result.succeeded else {
            throw ChildProcessError(description: "\(argv.joined(separator: " ")) failed: \(result)")
        }
        return result
    }

    /// Runs `body` while no other child is being spawned by ChildProcess (so none inherits pipes).
    static func withSpawnLock<R>(_ body: () -> R) -> R {
        spawnLock.lock()
        defer { spawnLock.unlock() }
        return body()
    }

    /// Spawn attributes that give the child an empty signal mask and default handlers.
    static func cleanSpawnAttributes() -> posix_spawnattr_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attr
    }

    /// posix_spawnp with an optional replacement environment.
    static func spawn(_ pid: inout pid_t, _ argv: [String], environment: [String: String]?,
                      actions: inout posix_spawn_file_actions_t, attributes: inout posix_spawnattr_t) -> Int32 {
        let env = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        return withCStrings(argv) { cargv in
            if let env {
                return withCStrings(env) { cenv in posix_spawnp(&pid, argv[0], &actions, &attributes, cargv, cenv) }
            }
            return posix_spawnp(&pid, argv[0], &actions, &attributes, cargv, environ)
        }
    }

    /// Reads both pipes to end of file without letting either fill up.
    private static func drain(_ a: Int32, _ b: Int32) -> (String, String) {
        var bufs: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var open = 2
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    bufs[i].append(contentsOf: chunk[0..<n])
                } else if n == 0 || errno != EINTR {
                    fds[i].fd = -1
                    open -= 1
                }
            }
        }
        return (String(decoding: bufs[0], as: UTF8.self), String(decoding: bufs[1], as: UTF8.self))
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// A plain pthread mutex that can be held across a synchronous spawn.
private final class SpawnLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}
