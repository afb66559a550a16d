import KV

/// The query of a status or journal request: `machineID`, `lines` (default 10, as journalctl) and
/// `follow` (`true`/`false`, also `1`/`0`).
struct InspectionParameters: Sendable, Equatable {
    var machineID: String?
    var lines: Int = 10
    var follow: Bool = false

    static let maxLines = 100_000

    init(machineID: String? = nil, lines: Int = 10, follow: Bool = false) {
        self.machineID = machineID
        self.lines = lines
        self.follow = follow
    }

    init(query: [(name: String, value: String)]) throws(APIServerError) {
        for (name, value) in query {
            switch name {
            case "machineID": machineID = value.isEmpty ? nil : value
            case "lines":
                guard let n = Int(value), (0...Self.maxLines).contains(n) else {
                    throw .badRequest("lines must be a whole number from 0 to \(Self.maxLines), got \"\(value)\"")
                }
                lines = n
            case "follow":
                switch value {
                case "true", "1": follow = true
                case "false", "0", "": follow = false
                default: throw .badRequest("follow must be true or false, got \"\(value)\"")
                }
            default: continue
            }
        }
    }

    /// The query a forwarding fleetd sends, naming the machine it resolved so the receiver does not
    /// resolve it again (the schedule may have moved meanwhile).
    func query(machineID: String) -> String {
        "machineID=\(URLEncoding.percentEncode(machineID))&lines=\(lines)&follow=\(follow)"
    }
}
