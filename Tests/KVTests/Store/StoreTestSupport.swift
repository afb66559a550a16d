import Testing
@testable import KV

/// Drives a `Store` the way the HTTP layer will: parse the request, propose writes with the leader's
/// `now`, encode the answer. Starts like a fresh 1-member etcd: three membership writes under `/0`,
/// so the first user write gets index 4, as in the reference examples.
final class Harness {
    let store: Store
    /// The "leader clock" in Unix nanoseconds; tests move it by hand.
    var now: Int64 = 1_795_473_695_321_383_831  // 2026-11-23T22:41:35.321383831Z

    struct Response: Equatable, CustomStringConvertible {
        var status: Int
        var index: UInt64
        var body: String
        var description: String { "\(status) [\(index)] \(body)" }
    }

    init(bootstrap: Bool = true, historyCapacity: Int = 1000) {
        store = Store(historyCapacity: historyCapacity)
        if bootstrap {
            for k in ["/0/members/8e9e05c52164694d/raftAttributes", "/0/version",
                      "/0/members/8e9e05c52164694d/attributes"] {
                store.apply(StoreCommand(now: now, .set(key: k, value: "{}", dir: false, ttl: nil, refresh: false)))
            }
        }
    }

    /// One keys request; `key` is the path after `/v2/keys`, `query` the raw query string.
    @discardableResult
    func req(_ method: String, _ key: String, _ query: String = "", body: String? = nil) -> Response {
        switch KeysRequestParser.parse(method: method, key: key, query: query, body: body) {
        case .failure(let e):
            let r = KeysResponse(.failure(e))
            #expect(r.isError && r.etcdIndex == 0)
            return Response(status: r.status, index: r.etcdIndex, body: r.body)
        case .success(let parsed):
            let result: Result<StoreEvent, StoreError>
            switch parsed.request {
            case let .get(key, recursive, sorted):
                result = store.get(key, recursive: recursive, sorted: sorted, now: now)
            case .propose(let op):
                // through the Raft wire form, as a follower would apply it
                let wire = StoreCommand(now: now, op).encoded()
                result = store.apply(try! StoreCommand(decoding: wire)).result!
            case .watch:
                fatalError("use watch()")
            }
            let r = KeysResponse(result, noValueOnSuccess: parsed.noValueOnSuccess)
            return Response(status: r.status, index: r.etcdIndex, body: r.body)
        }
    }

    @discardableResult func put(_ key: String, _ query: String = "") -> Response { req("PUT", key, query) }
    @discardableResult func get(_ key: String, _ query: String = "") -> Response { req("GET", key, query) }
    @discardableResult func delete(_ key: String, _ query: String = "") -> Response { req("DELETE", key, query) }
    @discardableResult func post(_ key: String, _ query: String = "") -> Response { req("POST", key, query) }

    /// Registers a watch on a user key.
    func watch(_ key: String, recursive: Bool = false, stream: Bool = false, waitIndex: UInt64 = 0)
        throws(StoreError) -> Watcher
    {
        try store.watch(KeyPath.userKey(key), recursive: recursive, stream: stream, waitIndex: waitIndex)
    }

    /// Runs the leader's periodic expiry.
    @discardableResult
    func expire() -> [StoreEvent] {
        guard case .expired(let evs) = store.apply(StoreCommand(now: now, .expire)) else { return [] }
        return evs
    }

    func advance(seconds: Int64) { now += seconds * TTL.nanosPerSecond }
}

/// Everything a watcher received so far (cancels it first, so this never waits).
func drain(_ w: Watcher) async -> [StoreEvent] {
    w.cancel()
    var out: [StoreEvent] = []
    for await e in w.events { out.append(e) }
    return out
}

/// JSON lines of received events, as a stream watch would write them.
func drainJSON(_ w: Watcher) async -> [String] {
    await drain(w).map { V2JSON.encode($0) }
}
