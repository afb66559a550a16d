/// What a normal Raft entry of a KV member carries.
///
/// Every proposal is tagged with the proposing member and a request number, so that the member
/// that proposed it can hand the outcome of applying it back to the waiting client.
public enum MemberProposal: Sendable, Equatable {
    /// A store operation stamped with the proposer's clock.
    case store(member: UInt64, request: UInt64, command: StoreCommand)
    /// The founding members' records, the last bootstrap entry of a new cluster.
    case bootstrap(members: [MemberInfo], clusterVersion: String)
    /// A member being added: its records are written by every member when this applies; the
    /// leader then adds it to Raft's configuration.
    case addMember(member: UInt64, request: UInt64, info: MemberInfo)
    /// A member's peer URLs change.
    case updateMember(member: UInt64, request: UInt64, id: UInt64, peerURLs: [String])
    /// A member is removed: records go, and the leader removes it from Raft's configuration.
    case removeMember(member: UInt64, request: UInt64, id: UInt64)

    static let version: UInt8 = 1

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.version)
        switch self {
        case let .store(member, request, command):
            w.u8(1); w.u64(member); w.u64(request); w.blob(command.encoded())
        case let .bootstrap(members, version):
            w.u8(2); w.string(version); w.u64(UInt64(members.count))
            for m in members { Self.encode(m, into: &w) }
        case let .addMember(member, request, info):
            w.u8(3); w.u64(member); w.u64(request); Self.encode(info, into: &w)
        case let .updateMember(member, request, id, urls):
            w.u8(4); w.u64(member); w.u64(request); w.u64(id); Self.encode(urls, into: &w)
        case let .removeMember(member, request, id):
            w.u8(5); w.u64(member); w.u64(request); w.u64(id)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(StoreDecodingError) {
        var r = ByteReader(bytes)
        let v = try r.u8()
        guard v == Self.version else { throw .unsupportedVersion(v) }
        switch try r.u8() {
        case 1:
            let member = try r.u64(), request = try r.u64()
            self = .store(member: member, request: request, command: try StoreCommand(decoding: try r.blob()))
        case 2:
            let version = try r.string()
            let n = try r.u64()
            guard n < 1 << 16 else { throw .invalid("too many members") }
            var members: [MemberInfo] = []
            for _ in 0..<n { members.append(try Self.decodeMember(&r)) }
            self = .bootstrap(members: members, clusterVersion: version)
        case 3:
            let member = try r.u64(), request = try r.u64()
            self = .addMember(member: member, request: request, info: try Self.decodeMember(&r))
        case 4:
            let member = try r.u64(), request = try r.u64(), id = try r.u64()
            self = .updateMember(member: member, request: request, id: id, peerURLs: try Self.decodeStrings(&r))
        case 5:
            let member = try r.u64(), request = try r.u64()
            self = .removeMember(member: member, request: request, id: try r.u64())
        case let t:
            throw .badTag(t)
        }
        guard r.atEnd else { throw .invalid("trailing bytes in proposal") }
    }

    /// Who proposed it and under which request number (nil for bootstrap).
    public var origin: (member: UInt64, request: UInt64)? {
        switch self {
        case let .store(m, r, _), let .addMember(m, r, _), let .updateMember(m, r, _, _), let .removeMember(m, r, _):
            return (m, r)
        case .bootstrap:
            return nil
        }
    }

    static func encode(_ m: MemberInfo, into w: inout ByteWriter) {
        w.u64(m.id)
        w.string(m.name)
        encode(m.peerURLs, into: &w)
        encode(m.clientURLs, into: &w)
    }

    static func decodeMember(_ r: inout ByteReader) throws(StoreDecodingError) -> MemberInfo {
        MemberInfo(id: try r.u64(), name: try r.string(), peerURLs: try decodeStrings(&r), clientURLs: try decodeStrings(&r))
    }

    static func encode(_ strings: [String], into w: inout ByteWriter) {
        w.u64(UInt64(strings.count))
        for s in strings { w.string(s) }
    }

    static func decodeStrings(_ r: inout ByteReader) throws(StoreDecodingError) -> [String] {
        let n = try r.u64()
        guard n < 1 << 16 else { throw .invalid("too many strings") }
        var out: [String] = []
        for _ in 0..<n { out.append(try r.string()) }
        return out
    }
}

/// A proposal on its way into Raft: its request number (0 for the member's own housekeeping, which
/// nobody waits for) and its encoding.
struct QueuedProposal {
    var request: UInt64
    var data: [UInt8]
}

/// Someone waiting for a proposal to be applied on this member: a suspended task or a callback
/// (`KVMember.propose(_:completion:)`). Resumed exactly once, with nil when the proposal's fate is
/// unknown (timed out, abandoned, member stopping).
struct ProposalWaiter {
    enum Completion {
        case continuation(CheckedContinuation<KVMember.ApplyResult?, Never>)
        case callback(@Sendable (KVMember.ApplyResult?) -> Void)
    }

    let completion: Completion
    /// The leader the proposal was handed to (this member's ID when it led), 0 while it waits for
    /// one: when this member stops following that leader, nobody will answer the proposal
    /// (`KVMember.abandonProposals`).
    var leader: UInt64 = 0

    init(continuation: CheckedContinuation<KVMember.ApplyResult?, Never>) {
        completion = .continuation(continuation)
    }

    init(callback: @escaping @Sendable (KVMember.ApplyResult?) -> Void) {
        completion = .callback(callback)
    }

    func resume(returning result: KVMember.ApplyResult?) {
        switch completion {
        case .continuation(let c): c.resume(returning: result)
        case .callback(let f): f(result)
        }
    }
}
