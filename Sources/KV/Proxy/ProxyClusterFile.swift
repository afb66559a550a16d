#if canImport(Glibc)
import Glibc
#endif

/// The peer URLs a proxy learned, kept in `<data-dir>/proxy/cluster` as etcd's proxy keeps them
/// (`{"PeerURLs":[…]}`), so a restarted proxy finds the cluster even after the members named in
/// `--initial-cluster` (or registered at discovery) have been replaced.
struct ProxyClusterFile {
    let dataDir: String
    var directory: String { FileIO.join(dataDir, "proxy") }
    var path: String { FileIO.join(directory, "cluster") }

    init(dataDir: String) { self.dataDir = dataDir }

    /// The stored peer URLs; nil when there is no file yet.
    func read() throws(ProxyError) -> [String]? {
        guard access(path, F_OK) == 0 else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileIO.readAll(path) } catch { throw .clusterFile(path: path, reason: "\(error)") }
        guard let urls = MiniJSON.stringArray(in: String(decoding: bytes, as: UTF8.self), field: "PeerURLs") else {
            throw .clusterFile(path: path, reason: "not {\"PeerURLs\":[...]} JSON; delete it to learn the cluster again")
        }
        return urls
    }

    /// Writes durably and atomically: a temporary file, fsync, rename.
    func write(_ urls: [String]) throws(ProxyError) {
        let json = "{\"PeerURLs\":" + MembershipRecords.jsonArray(urls) + "}"
        let temporary = path + ".bak"
        do {
            try FileIO.ensureDirectory(dataDir)
            try FileIO.ensureDirectory(directory)
            let fd = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            defer { FileIO.close(fd) }
            try FileIO.withRawBytes(Array(json.utf8)) { raw throws(WALError) in try FileIO.pwriteAll(fd, raw, at: 0, path: temporary) }
            try FileIO.fsync(fd, path: temporary)
            try FileIO.rename(temporary, path)
            try FileIO.fsyncDirectory(directory)
        } catch {
            throw .clusterFile(path: path, reason: "\(error)")
        }
    }
}
