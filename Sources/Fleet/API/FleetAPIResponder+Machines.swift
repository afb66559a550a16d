import Foundation
import KV

/// `GET /machines` (paged) and `PATCH /machines` (metadata operations).
extension FleetAPIResponder {
    func listMachines(_ request: HTTPRequest) async throws(APIServerError) -> HTTPResponse {
        let token = try pageToken(request)
        let all = try await registryCall("list_machines") { () async throws(RegistryError) in try await registry.machines() }
        let (range, next) = token.window(total: all.count)
        return APIJSON.response(
            .ok, APIPage(key: "machines", items: all[range].map(APIMachine.init), nextPageToken: next?.encoded))
    }

    /// Applies `[{"op":"add|replace|remove","path":"/<machine>/metadata/<key>","value":{"value":"…"}}]`.
    /// Every operation is checked before any is applied, so a bad one changes nothing. The machine
    /// need not be present (overrides survive restarts), as in fleet.
    func patchMachines(_ request: HTTPRequest) async throws(APIServerError) -> HTTPResponse {
        let ops: [APIMachineMetadataOp]
        do { ops = try APIJSON.decode([APIMachineMetadataOp].self, from: request.body) } catch {
            throw .badRequest("unable to decode body: \(error)")
        }
        var changes: [(machine: String, key: String, value: String?)] = []
        for op in ops {
            let (machine, key) = try Self.metadataPath(op.path)
            switch op.op {
            case "add", "replace":
                guard let value = op.value?.value else {
                    throw .badRequest("op \"\(op.op)\" on \(op.path) needs a value: {\"value\":\"…\"}")
                }
                changes.append((machine, key, value))
            case "remove": changes.append((machine, key, nil))
            default: throw .badRequest("invalid op \"\(op.op)\" on \(op.path); expected add, replace or remove")
            }
        }
        for change in changes {
            if let value = change.value {
                try await registryCall("set_machine_metadata") { () async throws(RegistryError) in
                    try await registry.setMachineMetadata(change.machine, key: change.key, value: value)
                }
            } else {
                try await registryCall("remove_machine_metadata") { () async throws(RegistryError) in
                    try await registry.removeMachineMetadata(change.machine, key: change.key)
                }
            }
        }
        return APIJSON.empty(.noContent)
    }

    /// Splits `/<machine>/metadata/<key>`; the key is `[A-Za-z0-9_.-]+` as in fleet.
    static func metadataPath(_ path: String) throws(APIServerError) -> (machine: String, key: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let keyCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        guard parts.count == 4, parts[0].isEmpty, !parts[1].isEmpty, parts[2] == "metadata", !parts[3].isEmpty,
            parts[3].unicodeScalars.allSatisfy(keyCharacters.contains)
        else {
            throw .badRequest("invalid path \"\(path)\"; expected /<machineID>/metadata/<key> with a key of [A-Za-z0-9_.-]")
        }
        return (String(parts[1]), String(parts[3]))
    }
}
