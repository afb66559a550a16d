import CSystemd
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which journal files to read.
public enum JournalSource: Hashable, Sendable {
    /// This machine's journal (`sd_journal_open`, local only).
    case local
    /// Journal files in one directory (`sd_journal_open_directory`), e.g.
    /// `/proc/<pid>/root/run/log/journal/<machine-id>`.
    case directory(String)
    /// The journal of the OS tree rooted at `path`: both its `/run/log/journal` and `/var/log/journal`
    /// (`SD_JOURNAL_OS_ROOT`). Lets a host read a container's journal via `/proc/<pid>/root`.
    case osRoot(String)
}

/// One journal entry, copied out of the journal.
public struct JournalEntry: Hashable, Sendable, CustomStringConvertible {
    /// `MESSAGE`.
    public var message: String
    /// Wall-clock time of the entry, microseconds since the epoch.
    public var realtimeUSec: UInt64
    /// `PRIORITY` (0 emerg ... 7 debug), when present.
    public var priority: Int?
    /// `_PID` of the logging process.
    public var pid: Int32?
    /// `_SYSTEMD_UNIT`, or `UNIT` for messages systemd logs about a unit.
    public var unit: String?
    /// Opaque position, for resuming.
    public var cursor: String
    /// `SYSLOG_IDENTIFIER`, else `_COMM`: the name journalctl prints before `[pid]` (`systemd` for
    /// PID 1's messages about the unit, the program's name for its own output).
    public var identifier: String? = nil

    public var description: String { message }
}

/// Reads a unit's journal: its last lines, optionally followed as new lines are written.
///
/// Mirrors `journalctl -u UNIT -n N [-f]`, which is what `fleetctl journal` ran on the unit's machine:
/// matches the unit's own output (`_SYSTEMD_UNIT=`) and systemd's messages about it (`UNIT=` from PID 1).
/// sd_journal objects are not thread-safe and `sd_journal_wait` blocks, so each reader runs on its own
/// thread and hands entries over through an `AsyncThrowingStream`; ending the iteration stops it.
public enum Journal {
    /// Streams entries of `unit` (all units when nil).
    ///
    /// - Parameters:
    ///   - lines: start with the last `lines` entries; nil means from the beginning without `follow`,
    ///     and only new entries with `follow`.
    ///   - after: a ``JournalEntry/cursor`` to resume after (takes precedence over `lines`); lets a caller
    ///     take a position, trigger something, and then read exactly what was logged since.
    ///   - follow: keep waiting for new entries (`sd_journal_wait` semantics, via the journal's inotify fd)
    ///     until the consumer stops iterating.
    public static func entries(
        unit: String?, source: JournalSource = .local, lines: Int? = nil, after cursor: String? = nil,
        follow: Bool = false
    ) -> AsyncThrowingStream<JournalEntry, any Error> {
        let (stream, continuation) = AsyncThrowingStream<JournalEntry, any Error>.makeStream()
        let reader: JournalReader
        do {
            reader = try JournalReader(
                unit: unit, source: source, lines: lines, after: cursor, follow: follow, output: continuation)
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        continuation.onTermination = { _ in reader.cancel() }
        do {
            try reader.start()
        } catch {
            continuation.finish(throwing: error)
        }
        return stream
    }

    /// The last `lines` entries of `unit` (all when nil), or those after `cursor`, without following.
    public static func read(
        unit: String?, source: JournalSource = .local, lines: Int? = nil, after cursor: String? = nil
    ) async throws -> [JournalEntry] {
        var out: [JournalEntry] = []
        for try await entry in entries(unit: unit, source: source, lines: lines, after: cursor, follow: false) {
            out.append(entry)
        }
        return out
    }
}

/// The thread-confined reader behind ``Journal/entries(unit:source:lines:follow:)``.
final class JournalReader: @unchecked Sendable {
    private let unit: String?
    private let source: JournalSource
    private let lines: Int?
    private let cursor: String?
    private let follow: Bool
    private let output: AsyncThrowingStream<JournalEntry, any Error>.Continuation
    /// Cancellation flag and the eventfd that wakes the thread; fd is -1 once the thread has finished.
    private let control: Mutex<(cancelled: Bool, fd: Int32)>

    init(
        unit: String?, source: JournalSource, lines: Int?, after cursor: String?, follow: Bool,
        output: AsyncThrowingStream<JournalEntry, any Error>.Continuation
    ) throws {
        self.unit = unit
        self.source = source
        self.lines = lines
        self.cursor = cursor
        self.follow = follow
        self.output = output
        let fd = csd_eventfd()
        if fd < 0 { throw SystemdError.journal(operation: "eventfd", code: errno) }
        self.control = Mutex((false, fd))
    }

    func cancel() {
        control.withLock { control in
            control.cancelled = true
            if control.fd >= 0 {
                var one: UInt64 = 1
                _ = Glibc.write(control.fd, &one, 8)
            }
        }
    }

    func start() throws {
        do {
            try startDetachedThread { self.run() }
        } catch {
            control.withLock { control in
                _ = Glibc.close(control.fd)
                control.fd = -1
            }
            throw SystemdError.journal(operation: "starting the reader thread", code: EAGAIN)
        }
    }

    private var isCancelled: Bool { control.withLock { $0.cancelled } }

    private func run() {
        var journal: OpaquePointer? = nil
        do {
            journal = try open()
            try read(journal!)
            output.finish()
        } catch {
            output.finish(throwing: error)
        }
        if let journal { sd_journal_close(journal) }
        control.withLock { control in
            _ = Glibc.close(control.fd)
            control.fd = -1
        }
    }

    private func check(_ result: Int32, _ operation: String) throws {
        if result < 0 { throw SystemdError.journal(operation: operation, code: result) }
    }

    private func open() throws -> OpaquePointer {
        var journal: OpaquePointer? = nil
        switch source {
        case .local:
            try check(sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY)), "open")
        case .directory(let path):
            try check(sd_journal_open_directory(&journal, path, 0), "open \(path)")
        case .osRoot(let path):
            try check(sd_journal_open_directory(&journal, path, Int32(SD_JOURNAL_OS_ROOT)), "open \(path)")
        }
        guard let journal else { throw SystemdError.journal(operation: "open", code: -ENOENT) }
        if let unit {
            try addMatch(journal, "_SYSTEMD_UNIT=\(unit)")
            try check(sd_journal_add_disjunction(journal), "add disjunction")
            try addMatch(journal, "UNIT=\(unit)")
            try addMatch(journal, "_PID=1")
        }
        if follow {
            // Set up inotify before positioning so no entry written in between is missed.
            try check(sd_journal_get_fd(journal), "get fd")
        }
        return journal
    }

    private func addMatch(_ journal: OpaquePointer, _ match: String) throws {
        let bytes = Array(match.utf8)
        try check(sd_journal_add_match(journal, bytes, bytes.count), "add match \(match)")
    }

    private func read(_ journal: OpaquePointer) throws {
        // Position: on the first entry to emit (then `pending` says it is already current), or before it.
        var pending = false
        if let cursor {
            try check(sd_journal_seek_cursor(journal, cursor), "seek to cursor")
            // Seeking lands on the cursor's entry (or the nearest one); skip it only if it is that entry.
            let moved = sd_journal_next(journal)
            try check(moved, "next")
            pending = moved > 0 && sd_journal_test_cursor(journal, cursor) <= 0
        } else if let lines {
            try check(sd_journal_seek_tail(journal), "seek tail")
            if lines > 0 {
                let skipped = sd_journal_previous_skip(journal, UInt64(lines))
                try check(skipped, "skip back")
                pending = skipped > 0
            } else {
                _ = sd_journal_previous_skip(journal, 1)
            }
        } else if follow {
            try check(sd_journal_seek_tail(journal), "seek tail")
            _ = sd_journal_previous_skip(journal, 1)
        } else {
            try check(sd_journal_seek_head(journal), "seek head")
        }

        while !isCancelled {
            if pending {
                pending = false
            } else {
                let result = sd_journal_next(journal)
                try check(result, "next")
                if result == 0 {
                    if !follow { return }
                    try wait(journal)
                    continue
                }
            }
            output.yield(entry(journal))
        }
    }

    private func wait(_ journal: OpaquePointer) throws {
        let fd = sd_journal_get_fd(journal)
        try check(fd, "get fd")
        let events = sd_journal_get_events(journal)
        try check(events, "get events")
        var deadline: UInt64 = 0
        var timeoutMS: Int32 = -1
        if sd_journal_get_timeout(journal, &deadline) >= 0 && deadline != UInt64.max {
            let now = csd_now_monotonic_usec()
            timeoutMS = deadline <= now ? 0 : Int32(clamping: (deadline - now + 999) / 1000)
        }
        let wakeFD = control.withLock { $0.fd }
        var fds = [
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: fd, events: Int16(truncatingIfNeeded: events), revents: 0),
        ]
        let result = poll(&fds, 2, timeoutMS)
        if result < 0 && errno != EINTR { throw SystemdError.journal(operation: "poll", code: errno) }
        try check(sd_journal_process(journal), "process")
    }

    private func entry(_ journal: OpaquePointer) -> JournalEntry {
        var realtime: UInt64 = 0
        _ = sd_journal_get_realtime_usec(journal, &realtime)
        var cursorPointer: UnsafeMutablePointer<CChar>? = nil
        var cursor = ""
        if sd_journal_get_cursor(journal, &cursorPointer) >= 0, let cursorPointer {
            cursor = String(cString: cursorPointer)
            free(cursorPointer)
        }
        return JournalEntry(
            message: field(journal, "MESSAGE") ?? "", realtimeUSec: realtime,
            priority: field(journal, "PRIORITY").flatMap { Int($0) },
            pid: field(journal, "_PID").flatMap { Int32($0) },
            unit: field(journal, "_SYSTEMD_UNIT") ?? field(journal, "UNIT"), cursor: cursor,
            identifier: field(journal, "SYSLOG_IDENTIFIER") ?? field(journal, "_COMM"))
    }

    /// A field's value (the bytes after `NAME=`), decoded as UTF-8 with repair.
    private func field(_ journal: OpaquePointer, _ name: String) -> String? {
        var data: UnsafeRawPointer? = nil
        var length = 0
        guard sd_journal_get_data(journal, name, &data, &length) >= 0, let data else { return nil }
        let prefix = name.utf8.count + 1
        guard length >= prefix else { return nil }
        let bytes = UnsafeRawBufferPointer(start: data + prefix, count: length - prefix)
        return String(decoding: bytes, as: UTF8.self)
    }
}
