/// Why a boot step failed. Each names the step, so the operator knows how far the boot got: steps
/// before it were applied, none after it.
public enum BootError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file could not be read or written.
    case file(path: String, String)
    /// A system tool failed.
    case command([String], String)
    /// systemd refused or could not be reached.
    case systemd(String)
    /// A user or group named in the user-data does not exist.
    case unknownOwner(String)
    /// Step `index` (1-based) of the plan failed.
    indirect case step(index: Int, action: String, BootError)

    public var description: String {
        switch self {
        case .file(let path, let why): return "\(path): \(why)"
        case .command(let argv, let why): return "\(argv.joined(separator: " ")): \(why)"
        case .systemd(let why): return "systemd: \(why)"
        case .unknownOwner(let owner): return "owner \"\(owner)\" does not exist on this machine"
        case .step(let index, let action, let error): return "boot step \(index) (\(action)) failed: \(error)"
        }
    }
}
