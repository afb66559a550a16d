/// fleetctl's exit statuses. fleet exited 0 after usage errors and unknown commands (a bug); here
/// every failure is non-zero and the kind of failure can be told apart by scripts. The same table
/// is printed by `fleetctl --help` and documented in the README.
public enum FleetctlExitCode: Int32, Sendable, CaseIterable {
    /// Everything asked for was done (and, when blocking, reached its state).
    case success = 0
    /// An operation failed: unknown unit, malformed unit file, refused by the server, a unit that
    /// failed or did not reach its state within --block-attempts.
    case failure = 1
    /// The command line was wrong: unknown command or flag, missing argument, rejected flag.
    case usage = 2
    /// No fleet API endpoint could be reached or it did not answer within --request-timeout.
    case unreachable = 3

    /// One line per status, for `--help` and the README.
    public static let documentation = """
        EXIT STATUS:
          0  success
          1  operation failed (unknown unit, bad unit file, refused, failed, timed out)
          2  usage error (unknown command or flag, bad argument, unsupported flag)
          3  fleet API unreachable or no answer within --request-timeout
        """
}
