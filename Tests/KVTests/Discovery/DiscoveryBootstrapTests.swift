import Logging
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import KV

/// Discovery bootstrap against one of our own members acting as the discovery service, as the
/// reference describes etcd's protocol (§3.2).
@Suite(.serialized) struct DiscoveryBootstrapTests {
    @Test func threeMembersFormOneClusterAndAFourthFindsItFull() async throws {
        let harness = try await DiscoveryHarness(size: 3)
        let configs = ["d1", "d2", "d3"].map { harness.config($0) }
        var nodes: [KVMember.Running] = []
        do {
            nodes = try await withThrowingTaskGroup(of: KVMember.Running.self) { group in
                for c in configs {
                    group.addTask { try await KVMember.start(config: c, logger: Logger(label: c.name), discoveryRetry: DiscoveryHarness.quickRetry) }
                }
                var started: [KVMember.Running] = []
                for try await r in group { started.append(r) }
                return started.sorted { $0.member.memberName < $1.member.memberName }
            }
            // The registry keys are the member IDs, derived as static bootstrap derives them.
            let registered = try await harness.registrations()
            #expect(registered.count == 3)
            let token = harness.url
            for (c, node) in zip(configs, nodes) {
                let id = MembershipRecords.memberID(peerURLs: c.initialAdvertisePeerURLs.map(\.description), token: token)
                #expect(node.member.memberID == id)
                #expect(registered[MemberInfo.hex(id)] == "\(c.name)=\(c.initialAdvertisePeerURLs[0])")
            }
            // One cluster: the same cluster ID and the same member list everywhere, names published.
            #expect(Set(nodes.map(\.member.clusterID)).count == 1)
            let named = try await DiscoveryHarness.eventually {
                nodes.allSatisfy { n in n.member.members().count == 3 && !n.member.members().contains { $0.name.isEmpty } }
            }
            #expect(named)
            let lists = nodes.map { $0.member.members().map { "\(MemberInfo.hex($0.id)) \($0.name) \($0.peerURLs)" }.sorted() }
            #expect(lists[0] == lists[1] && lists[1] == lists[2], "\(lists)")
            #expect(Set(lists[0].map { String($0.split(separator: " ")[0]) }) == Set(registered.keys))

            // A write on one member is readable on all.
            var put = try await harness.put(configs[1], "/disc", "hello")
            for _ in 0..<5 where put.status == .internalServerError { put = try await harness.put(configs[1], "/disc", "hello") }
            #expect(put.status == .created, "\(put.bodyString)")
            for c in configs {
                let seen = try await DiscoveryHarness.eventually {
                    let r = try await harness.client.execute(.GET, harness.endpoint(c), "/v2/keys/disc", timeout: 5)
                    return r.bodyString.contains(#""value":"hello""#)
                }
                #expect(seen, "\(c.name) never saw the write")
            }

            // A fourth member with --discovery-fallback exit: etcd's error, and it does not register.
            let fourth = harness.config("d4", fallback: .exit)
            await #expect {
                _ = try await KVNode.start(config: fourth, discoveryRetry: DiscoveryHarness.quickRetry)
            } throws: { error in
                guard case KVMemberError.discovery(.fullCluster, _) = error else { return false }
                let text = "\(error)"
                return text.contains("failed to join discovery cluster (discovery: cluster is full)")
                    && text.contains("please generate a new discovery token and try to bootstrap again.")
            }
            #expect(try await harness.registrations().count == 3)

            // With --discovery-fallback proxy (etcd's default) it serves the cluster as a proxy instead.
            let fifth = harness.config("d5", fallback: .proxy)
            let proxy = try await KVNode.start(config: fifth, discoveryRetry: DiscoveryHarness.quickRetry)
            if case .member = proxy { Issue.record("expected a proxy, got a member") }
            #expect(try await harness.registrations().count == 3)
            var viaProxy = try await harness.put(fifth, "/through-proxy", "yes")
            for _ in 0..<5 where viaProxy.status == .internalServerError { viaProxy = try await harness.put(fifth, "/through-proxy", "yes") }
            #expect(viaProxy.status == .created, "\(viaProxy.bodyString)")
            let onMember = try await DiscoveryHarness.eventually {
                let r = try await harness.client.execute(.GET, harness.endpoint(configs[0]), "/v2/keys/through-proxy", timeout: 5)
                return r.bodyString.contains(#""value":"yes""#)
            }
            #expect(onMember)
            await proxy.shutdown()

            // Restart with the data dir: discovery is not asked again (the service is down by now).
            await harness.service.stop(0)
            await nodes[0].shutdown()
            nodes[0] = try await KVMember.start(config: configs[0], logger: Logger(label: "d1"), discoveryRetry: DiscoveryHarness.quickRetry)
            #expect(nodes[0].member.memberID == MembershipRecords.memberID(peerURLs: configs[0].initialAdvertisePeerURLs.map(\.description), token: token))
        } catch {
            for n in nodes { await n.shutdown() }
            await harness.shutdown()
            throw error
        }
        for n in nodes { await n.shutdown() }
        await harness.shutdown()
    }

    @Test func sameMemberIDRegisteringAgainIsADuplicate() async throws {
        let harness = try await DiscoveryHarness(size: 3)
        let first = harness.config("d1")
        // Registered before (a member that lost its data dir): the same peer URLs give the same ID.
        let id = MemberInfo.hex(MembershipRecords.memberID(peerURLs: first.initialAdvertisePeerURLs.map(\.description), token: harness.url))
        _ = try await harness.service.putRetrying(0, "/_etcd/registry/\(harness.token)/\(id)", "d1=\(first.initialAdvertisePeerURLs[0])")
        var again = first
        again.name = "d7"
        await #expect {
            _ = try await KVMember.start(config: again, discoveryRetry: DiscoveryHarness.quickRetry)
        } throws: { error in
            guard case KVMemberError.discovery(.duplicateID, _) = error else { return false }
            return "\(error)".contains("member \"d7\" has previously registered with discovery service token (\(harness.url)).")
        }
        #expect(try await harness.registrations().count == 1)
        await harness.shutdown()
    }

    @Test func missingSizeKeyIsReported() async throws {
        let harness = try await DiscoveryHarness(size: nil)
        await #expect {
            _ = try await KVMember.start(config: harness.config("d1"), discoveryRetry: DiscoveryHarness.quickRetry)
        } throws: { error in
            guard case KVMemberError.discovery(.sizeNotFound, _) = error else { return false }
            return "\(error)".contains("_config/size")
        }
        #expect(try await harness.registrations().isEmpty)
        await harness.shutdown()
    }

    @Test func unreachableServiceGivesUpWithAClearError() async throws {
        let port = freeLoopbackPort()
        var c = KVConfig()
        c.name = "lonely"
        c.dataDir = "/tmp/fleet-swift-disc-unreachable-\(port)"
        c.listenPeerURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        c.initialAdvertisePeerURLs = c.listenPeerURLs
        c.listenClientURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        c.discovery = "http://127.0.0.1:\(port)/v2/keys/_etcd/registry/nobody-home"
        defer { _ = try? ChildProcess.run(["rm", "-rf", c.dataDir]) }
        let started = ContinuousClock.now
        await #expect {
            _ = try await KVNode.start(config: c, discoveryRetry: DiscoveryHarness.quickRetry)
        } throws: { error in
            guard case KVMemberError.discovery(.tooManyRetries(let attempts, _, _), _) = error else { return false }
            let text = "\(error)"
            return attempts == 3 && text.contains("too many retries") && text.contains(c.discovery!)
                && text.contains("cannot connect")
        }
        // Two backoffs of 20 and 40 ms: it gave up, it did not hang.
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func dnsSRVDiscoveryIsRefusedNotIgnored() async throws {
        var c = KVConfig()
        c.discoverySRV = "example.com"
        c.dataDir = "/tmp/fleet-swift-disc-srv-\(freeLoopbackPort())"
        c.listenPeerURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        c.listenClientURLs = [KVURL(scheme: "http", host: "127.0.0.1", port: freeLoopbackPort())]
        defer { _ = try? ChildProcess.run(["rm", "-rf", c.dataDir]) }
        await #expect {
            _ = try await KVNode.start(config: c)
        } throws: { error in
            guard case KVMemberError.discovery(.srvUnsupported("example.com"), _) = error else { return false }
            return true
        }
    }

    @Test func discoveryURLsAreParsedAsEtcdDoes() throws {
        let d = try DiscoveryURL("http://10.0.0.1:2379/v2/keys/_etcd/registry/abc/")
        #expect(d.endpoint == .tcp(host: "10.0.0.1", port: 2379))
        #expect(d.path == "/v2/keys/_etcd/registry/abc")
        #expect(d.token == "abc")
        #expect(d.requestPath("_config/size") == "/v2/keys/_etcd/registry/abc/_config/size")
        #expect(d.requestPath("?wait=true") == "/v2/keys/_etcd/registry/abc?wait=true")
        #expect(throws: DiscoveryError.self) { try DiscoveryURL("https://discovery.etcd.io/abc") }
        #expect(throws: DiscoveryError.self) { try DiscoveryURL("http://10.0.0.1:2379") }
        let policy = DiscoveryRetryPolicy()
        #expect(policy.delay(afterFailure: 0) == .seconds(1))
        #expect(policy.delay(afterFailure: 3) == .seconds(8))
        #expect(policy.delay(afterFailure: 20) == .seconds(256))
    }
}
