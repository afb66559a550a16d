/// Why a KV member's configuration was rejected.
///
/// Every case names the flag it is about (`flag`), so callers that got the value from somewhere else
/// (an `ETCD_*` variable, a `coreos.etcd2` key in cloud-config) can point the user at the right place.
/// Messages follow etcd's wording where etcd has one, so existing runbooks still match.
public enum KVConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A command-line flag that etcd does not have (Go's flag package wording).
    case unknownFlag(String)
    /// A non-boolean flag at the end of the argument list with no value.
    case missingValue(flag: String)
    /// A positional argument: `etcd` takes none, so this is almost always a typo such as a missing `--`.
    case unexpectedArgument(String)
    /// A value that cannot be read as the flag's type or is outside its allowed set.
    /// `source` is how the user wrote it: `flag -name` or `ETCD_NAME`.
    case invalidValue(flag: String, source: String, value: String, expected: String)
    /// A URL in a URL-list flag that etcd would not accept.
    case invalidURL(flag: String, url: String, reason: String)
    /// A setting that is well-formed on its own but inconsistent with others.
    case inconsistent(flag: String, message: String)

    /// The flag (without dashes) the problem is about, or nil when no flag applies.
    public var flag: String? {
        switch self {
        case .unknownFlag(let name): return name
        case .missingValue(let flag): return flag
        case .unexpectedArgument: return nil
        case .invalidValue(let flag, _, _, _): return flag
        case .invalidURL(let flag, _, _): return flag
        case .inconsistent(let flag, _): return flag
        }
    }

    public var description: String {
        switch self {
        case .unknownFlag(let name):
            return "flag provided but not defined: -\(name)"
        case .missingValue(let flag):
            return "flag needs an argument: -\(flag)"
        case .unexpectedArgument(let arg):
            return "'\(arg)' is not a valid flag"
        case .invalidValue(_, let source, let value, let expected):
            return "invalid value \"\(value)\" for \(source): \(expected)"
        case .invalidURL(let flag, let url, let reason):
            return "--\(flag): \(reason): \(url)"
        case .inconsistent(_, let message):
            return message
        }
    }

    /// The message without the flag/variable prefix, for reports that name the key themselves
    /// (cloud-config validation prints `coreos.etcd2.proxy: ...`).
    public var detail: String {
        switch self {
        case .invalidValue(_, _, let value, let expected):
            return "\(expected), got \(value)"
        case .invalidURL(_, let url, let reason):
            return "\(reason): \(url)"
        default:
            return description
        }
    }
}

/// A non-fatal remark about the configuration (etcd prints these as warnings and continues).
public struct KVConfigWarning: Equatable, Sendable, CustomStringConvertible {
    /// The flag the warning is about, or nil.
    public var flag: String?
    public var message: String
    public var description: String { message }

    public init(flag: String?, message: String) {
        self.flag = flag
        self.message = message
    }
}
