/// The agent's record of what it has done to systemd on this machine: which unit files it wrote (and
/// their hashes), which units it started, and whether systemd still has to re-read unit files.
///
/// "Launched" is what the agent started, not what systemd reports as active, as in fleet: a unit that
/// failed or was stopped by hand is not restarted every pass (that is systemd's `Restart=` job), and a
/// `launched → loaded` change still stops a unit that crashed.
public struct LocalUnitState: Hashable, Sendable {
    /// A unit file in the units directory.
    public struct File: Hashable, Sendable {
        /// The unit hash of its contents; nil when the file could not be read or parsed (adopted at
        /// start-up), which the planner treats as "differs" so the file gets rewritten.
        public var hash: UnitHash?
        public init(hash: UnitHash?) { self.hash = hash }
    }

    /// Unit files present, by unit name.
    public var files: [String: File]
    /// Units the agent started (and has not stopped since).
    public var launched: Set<String>
    /// A load or unload succeeded but the daemon-reload after it did not happen yet (the pass failed
    /// in between); the next pass reloads even if it has no file change of its own.
    public var reloadPending: Bool

    public init(files: [String: File] = [:], launched: Set<String> = [], reloadPending: Bool = false) {
        self.files = files
        self.launched = launched
        self.reloadPending = reloadPending
    }

    /// Convenience for tests and adoption: files with known hashes.
    public init(loaded: [String: UnitHash], launched: Set<String> = [], reloadPending: Bool = false) {
        self.init(files: loaded.mapValues { File(hash: $0) }, launched: launched, reloadPending: reloadPending)
    }

    /// Names of the units whose files are present, sorted.
    public var loadedUnits: [String] { files.keys.sorted() }
}
