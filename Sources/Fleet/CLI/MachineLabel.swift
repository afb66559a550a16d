/// How fleetctl names a machine in tables and messages: `abcd1234...` (the first 8 characters of
/// the machine ID and three dots) or, with `--full`, the whole ID; followed by `/<PublicIP>` where
/// the IP is known. A machine that has left the cluster shows only the ID part.
public struct MachineLabel: Sendable {
    private let ipByID: [String: String]
    public let full: Bool

    public init(machines: [APIMachine], full: Bool) {
        var ips: [String: String] = [:]
        for m in machines where !m.primaryIP.isEmpty { ips[m.id] = m.primaryIP }
        self.ipByID = ips
        self.full = full
    }

    /// The ID part alone: `abcd1234...` or the full ID.
    public static func id(_ id: String, full: Bool) -> String {
        full || id.count <= 8 ? id : String(id.prefix(8)) + "..."
    }

    /// `abcd1234.../10.0.0.1`, or the ID part alone when the machine's IP is unknown.
    public func label(_ id: String) -> String {
        let idPart = Self.id(id, full: full)
        guard let ip = ipByID[id] else { return idPart }
        return "\(idPart)/\(ip)"
    }
}
