#if canImport(Glibc)
import Glibc
#endif

/// Runs a system tool (useradd, usermod, systemd-run) for the boot, with an ordinary signal state,
/// and reports a failure with the tool's own error output.
public enum HostCommand {
    /// Runs `argv` (argv[0] looked up in PATH) to completion; throws `BootError.command` on a
    /// non-zero exit, quoting the tool's standard error.
    public static func run(_ argv: [String]) throws(BootError) {
        precondition(!argv.isEmpty)
        var errPipe: [Int32] = [0, 0]
        guard pipe(&errPipe) == 0 else { throw .command(argv, "cannot create a pipe (errno \(errno))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        posix_spawn_file_actions_addclose(&actions, errPipe[0])
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        close(errPipe[1])
        defer { close(errPipe[0]) }
        guard rc == 0 else { throw .command(argv, "cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(errPipe[0], &buffer, buffer.count)
            if n > 0 { output += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let how = exited ? "exit status \(code)" : "signal \(status & 0x7f)"
            throw .command(argv, text.isEmpty ? how : "\(how): \(text)")
        }
    }
}
