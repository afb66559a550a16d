import Logging
import NIOCore
import NIOHTTP1

/// Starting a member: recover or bootstrap its state, join an existing cluster, listen.
extension KVMember {
    /// A running member with its listeners.
    public final class Running: Sendable {
        public let member: KVMember
        public let clientServers: [HTTPServer]
        public let peerServers: [HTTPServer]

        init(member: KVMember, clientServers: [HTTPServer], peerServers: [HTTPServer]) {
            self.member = member
            self.clientServers = clientServers
            self.peerServers = peerServers
        }

        /// Stops listening, then stops the member (its WAL is closed; nothing acknowledged is lost).
        public func shutdown() async {
            for s in clientServers + peerServers { await s.shutdown() }
            member.stop()
        }
    }

    /// Starts a member from etcd-style configuration: a restart when the data directory holds a
    /// log, otherwise a new cluster (`initialClusterState == .new`, from `--initial-cluster` or
    /// `--discovery`) or a join (`.existing`).
    /// `discoveryRetry` bounds how long an unreachable discovery service is retried.
    public static func start(config: KVConfig, logger: Logger = Logger(label: "kv"),
                             discoveryRetry: DiscoveryRetryPolicy = DiscoveryRetryPolicy()) async throws -> Running {
        var config = config
        let (storage, recovered): (MemberStorage, MemberStorage.Recovered)
        do { (storage, recovered) = try MemberStorage.open(dataDir: config.dataDir) } catch {
            throw KVMemberError.storage(error)
        }
        if let torn = recovered.tornTail { logger.warning("\(torn)") }
        let advertisedPeers = config.initialAdvertisePeerURLs.map(\.description)
        var raft = recovered.raft
        let identity: MemberIdentity
        var joinedPeers: [UInt64: [String]] = [:]
        if let existing = recovered.identity {
            identity = existing
            logger.info("restarting member", metadata: ["member": "\(MemberInfo.hex(existing.memberID))",
                                                       "commit": "\(raft.hardState.commit)"])
        } else if config.initialClusterState == .new {
            if config.discovery != nil || config.discoverySRV != nil {
                // Only a member without state asks the discovery service; a restart never does.
                do { config = try await discoverCluster(config: config, retry: discoveryRetry, logger: logger) } catch {
                    storage.close()
                    throw error
                }
            }
            let founders = config.initialCluster.members.map { m in
                MemberInfo(id: MembershipRecords.memberID(peerURLs: m.peerURLs.map(\.description), token: config.initialClusterToken),
                           name: "", peerURLs: m.peerURLs.map(\.description), clientURLs: [])
            }
            guard let me = config.initialCluster.members.firstIndex(where: { $0.name == config.name }) else {
                storage.close()
                throw KVMemberError.notInInitialCluster(name: config.name)
            }
            identity = MemberIdentity(memberID: founders[me].id, clusterID: MembershipRecords.clusterID(memberIDs: founders.map(\.id)))
            raft = MemoryStorage.bootstrap(voters: founders.map(\.id))
            let index = raft.lastIndex + 1
            raft.entries.append(Entry(term: 1, index: index, kind: .normal,
                                      data: MemberProposal.bootstrap(members: founders, clusterVersion: ClientAPI.clusterVersion).encoded()))
            raft.hardState.commit = index
            do {
                try storage.claim(identity, recovered: nil)
                try storage.persist(snapshot: nil, entries: raft.entries, hardState: raft.hardState)
            } catch {
                storage.close()
                throw KVMemberError.storage(error)
            }
            logger.info("bootstrapping a new cluster", metadata: ["members": "\(founders.count)",
                                                                  "cluster": "\(MemberInfo.hex(identity.clusterID))"])
        } else {
            do {
                (identity, joinedPeers) = try await join(config: config, advertisedPeers: advertisedPeers)
                try storage.claim(identity, recovered: nil)
            } catch let error as MemberStorageError {
                storage.close()
                throw KVMemberError.storage(error)
            } catch {
                storage.close()
                throw error
            }
        }
        let member = KVMember(config: config, logger: logger, memberID: identity.memberID, clusterID: identity.clusterID,
                              storage: storage, raft: raft)
        if let fatal = member.fatal {
            storage.close()
            throw KVMemberError.joinFailed(fatal)
        }
        let receiver = PeerReceiver(clusterID: identity.clusterID, onFrames: { [weak member] _, frames in
            member?.receive(frames: frames)
        }, onSnapshot: { _, _ in })
        var peerServers: [HTTPServer] = []
        var clientServers: [HTTPServer] = []
        do {
            let clientTLS = try config.clientServerTLS()
            for url in config.listenPeerURLs {
                // The listening socket on NIO's shared loops, the connections on the Raft loop:
                // a peer's frames are then read by the thread that steps them, without a wake-up
                // of another thread per message (the streams are never answered, so the loop's
                // WAL syncs hold nothing back but the reading itself).
                peerServers.append(try await HTTPServer.start(address: url.listenAddress,
                                                              responder: PeerAPI(receiver: receiver, member: member),
                                                              maxBodySize: 1 << 30, connectionGroup: member.loopGroup))
            }
            for url in config.listenClientURLs {
                clientServers.append(try await HTTPServer.start(address: url.listenAddress,
                                                                responder: ClientAPI(backend: member), tls: clientTLS,
                                                                maxBodySize: KeysRequestParser.defaultMaxValueSize + 64 * 1024))
            }
        } catch {
            for s in peerServers + clientServers { await s.shutdown() }
            member.stop()
            throw KVMemberError.listen("\(error)")
        }
        let seeds = joinedPeers
        try await member.loop.submit {
            if !seeds.isEmpty { member.seedPeers(seeds) }
            member.refreshPeers()
            member.startTicking()
        }.get()
        member.schedule()
        return Running(member: member, clientServers: clientServers, peerServers: peerServers)
    }

    /// Finds this member's ID and the cluster ID from the members of an existing cluster, which
    /// must have added it already (`etcdctl member add`), and the other members' peer URLs: the new
    /// member needs them to answer the leader before its own store has caught up.
    static func join(config: KVConfig, advertisedPeers: [String]) async throws -> (MemberIdentity, [UInt64: [String]]) {
        let client = HTTPClient()
        defer { client.shutdown() }
        var reasons: [String] = []
        let mine = Set(advertisedPeers)
        for m in config.initialCluster.members where m.name != config.name {
            for url in m.peerURLs {
                guard let endpoint = HTTPEndpoint(url: url.description) else { continue }
                do {
                    let r = try await client.execute(.GET, endpoint, "/members", timeout: 5)
                    guard r.status == .ok, let cluster = r.headers.first(name: PeerProtocol.clusterHeader).flatMap({ UInt64($0, radix: 16) }),
                          let list = MiniJSON.parse(r.bodyString)?.arrayValue else {
                        reasons.append("\(url): unexpected answer \(r.status.code)")
                        continue
                    }
                    var me: UInt64?
                    var others: [UInt64: [String]] = [:]
                    for item in list {
                        let urls = item["peerURLs"]?.arrayValue?.compactMap(\.stringValue) ?? []
                        guard let id = item["id"]?.stringValue.flatMap({ UInt64($0, radix: 16) }) else { continue }
                        if !Set(urls).isDisjoint(with: mine) { me = id } else { others[id] = urls }
                    }
                    if let me { return (MemberIdentity(memberID: me, clusterID: cluster), others) }
                    throw KVMemberError.joinFailed("the cluster at \(url) has no member with peer URLs \(advertisedPeers.joined(separator: ",")); "
                        + "add it first with etcdctl member add \(config.name) \(advertisedPeers.first ?? "")")
                } catch let error as KVMemberError {
                    throw error
                } catch {
                    reasons.append("\(url): \(error)")
                }
            }
        }
        throw KVMemberError.joinFailed(reasons.isEmpty ? "--initial-cluster names no other member" : reasons.joined(separator: "; "))
    }
}

/// The peer listener: the Raft transport's streams and snapshots, `/members` for joining members, `/version`.
struct PeerAPI: HTTPResponder {
    let receiver: PeerReceiver
    weak var member: KVMember?

    func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        if receiver.handles(request) { return nil }
        switch (request.method, request.rawPath) {
        case (.GET, "/members"):
            guard let member else { return HTTPResponse(status: .serviceUnavailable) }
            var headers = HTTPHeaders()
            headers.add(name: PeerProtocol.clusterHeader, value: MemberInfo.hex(member.clusterID))
            let body = "[" + member.members().map(ClientAPI.memberJSON).joined(separator: ",") + "]\n"
            return HTTPResponse(status: .ok, contentType: "application/json", text: body, headers: headers)
        case (.GET, "/version"):
            return HTTPResponse(status: .ok, contentType: "application/json",
                                text: #"{"etcdserver":"\#(ClientAPI.serverVersion)","etcdcluster":"\#(ClientAPI.clusterVersion)"}"#)
        default:
            return HTTPResponse(status: .notFound, contentType: "text/plain; charset=utf-8", text: "404 page not found\n")
        }
    }

    func streamRequest(_ request: HTTPRequest) -> HTTPRequestStream? {
        guard receiver.handlesStream(request) else { return nil }
        noteSender(of: request)
        return receiver.acceptStream(request)
    }

    /// Lets the member learn a sender its store does not know yet (see `KVMember.noteSender`).
    private func noteSender(of request: HTTPRequest) {
        guard let member,
              request.headers.first(name: PeerProtocol.clusterHeader).flatMap({ UInt64($0, radix: 16) }) == member.clusterID,
              let from = request.headers.first(name: PeerProtocol.fromHeader).flatMap({ UInt64($0, radix: 16) }) else { return }
        member.noteSender(from, peerURLs: request.headers.first(name: PeerProtocol.peerURLsHeader))
    }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        if receiver.handles(request) {
            noteSender(of: request)
            return await receiver.respond(to: request)
        }
        return respondImmediately(to: request)!
    }
}
