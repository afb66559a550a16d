#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Where fleetctl writes: results (tables, `Unit X launched on …`) on stdout; progress, warnings and
/// errors on stderr, so that scripts can parse stdout while a person watches stderr.
public struct Console: Sendable {
    public var out: @Sendable (String) -> Void
    public var err: @Sendable (String) -> Void

    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void) {
        self.out = out
        self.err = err
    }

    /// The process's stdout and stderr, written unbuffered so progress appears at once.
    public static let standard = Console(out: { writeAll(1, $0) }, err: { writeAll(2, $0) })

    private static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }
}

/// What every fleetctl command runs with: the API, the console, how to pause between polls, and
/// how to read local unit files. Tests substitute a fake API, a capturing console and a pause that
/// returns at once, so command logic is exercised without a cluster or real time passing.
public struct FleetctlContext: Sendable {
    public var api: any FleetAPI
    public var console: Console
    /// Waits between two polls of a blocking command (250 ms in fleet).
    public var pause: @Sendable (Duration) async throws -> Void
    /// Reads a local file; nil if there is no regular file at the path, throws if it cannot be read.
    public var readFile: @Sendable (String) throws(CLIError) -> String?

    public init(
        api: any FleetAPI, console: Console = .standard,
        pause: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        readFile: @escaping @Sendable (String) throws(CLIError) -> String? = FleetctlContext.readLocalFile
    ) {
        self.api = api
        self.console = console
        self.pause = pause
        self.readFile = readFile
    }

    /// The contents of the regular file at `path`, nil if there is none.
    public static func readLocalFile(_ path: String) throws(CLIError) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .local("Unable to read unit file \(path): permission denied or unreadable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .local("Unable to read unit file \(path): not UTF-8 text")
        }
        return text
    }

    /// Runs an API call, turning its error into a ``CLIError`` that says what was being done.
    func call<T>(_ context: @autoclosure () -> String, _ body: () async throws(FleetAPIError) -> T)
        async throws(CLIError) -> T
    {
        do { return try await body() } catch { throw .api(error, context: context()) }
    }
}
