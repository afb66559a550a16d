#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Who this machine is in the cluster: its ID from `/etc/machine-id`, the address other machines and
/// fleetctl reach it at, and its hostname (for the `%H` specifier, which fleet lacked).
public enum MachineIdentity {
    /// Reads and checks `/etc/machine-id` (32 lowercase hex digits after trimming). fleet refused to
    /// start without one ("unable to determine local machine ID"); so do we, naming the file.
    public static func machineID(path: String = "/etc/machine-id") throws(FleetDaemonError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .machineID(path: path, reason: "cannot read the file")
        }
        let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !id.isEmpty else { throw .machineID(path: path, reason: "the file is empty") }
        guard id.count == 32, id.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw .machineID(path: path, reason: "\"\(id.prefix(64))\" is not 32 lowercase hex digits")
        }
        return id
    }

    /// The first IPv4 address of the default-route interface, as fleet detected it; failing that, the
    /// first non-loopback IPv4 address of any interface (machines without a default route, such as a
    /// private test network). Nil when there is none.
    public static func detectPublicIP(routeTable: String? = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8))
        -> String?
    {
        let addresses = interfaceAddresses()
        if let iface = defaultRouteInterface(routeTable ?? ""),
            let match = addresses.first(where: { $0.interface == iface })
        {
            return match.address
        }
        return addresses.first(where: { !$0.address.hasPrefix("127.") })?.address
    }

    /// The interface of the default route in `/proc/net/route` text (destination 00000000, mask 0).
    public static func defaultRouteInterface(_ table: String) -> String? {
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8 else { continue }
            if fields[1] == "00000000", fields[7] == "00000000" { return String(fields[0]) }
        }
        return nil
    }

    /// IPv4 addresses of the interfaces that are up, in the kernel's order.
    static func interfaceAddresses() -> [(interface: String, address: String)] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var out: [(String, String)] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sockaddr = entry.pointee.ifa_addr, sockaddr.pointee.sa_family == sa_family_t(AF_INET),
                (entry.pointee.ifa_flags & UInt32(IFF_UP)) != 0
            else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let ok = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> Bool in
                var addr = sin.pointee.sin_addr
                return inet_ntop(AF_INET, &addr, &text, socklen_t(INET_ADDRSTRLEN)) != nil
            }
            guard ok else { continue }
            let name = String(cString: entry.pointee.ifa_name)
            let address = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            out.append((name, address))
        }
        return out
    }

    /// The kernel's hostname.
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// This machine's presence record from the configuration: `public_ip` when set, else detected;
    /// metadata from the configuration; our version.
    public static func local(
        config: FleetConfig, machineIDPath: String = "/etc/machine-id"
    ) throws(FleetDaemonError) -> MachineState {
        let id = try machineID(path: machineIDPath)
        let ip = config.publicIP.isEmpty ? (detectPublicIP() ?? "") : config.publicIP
        let name = hostname()
        return MachineState(
            id: id, publicIP: ip, metadata: config.metadata.isEmpty ? nil : config.metadata,
            version: FleetModule.version, hostname: name.isEmpty ? nil : name
        )
    }
}
