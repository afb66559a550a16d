/// A ready-to-send keys response: status, `X-Etcd-Index` and body, so the HTTP layer only adds the
/// transport headers (`Content-Type: application/json`, `X-Etcd-Cluster-Id`, CORS, and on success
/// `X-Raft-Index`/`X-Raft-Term`).
public struct KeysResponse: Sendable, Hashable {
    /// 200/201 on success; the error's status otherwise.
    public var status: Int
    /// `X-Etcd-Index`: the event's index (store index after the operation), or the error's index.
    public var etcdIndex: UInt64
    /// JSON body including the trailing newline.
    public var body: String
    /// Errors carry only `X-Etcd-Index`, no `X-Raft-*` headers.
    public var isError: Bool

    public init(status: Int, etcdIndex: UInt64, body: String, isError: Bool) {
        self.status = status
        self.etcdIndex = etcdIndex
        self.body = body
        self.isError = isError
    }

    /// Builds the response for a store result, trimming the user namespace from keys and causes.
    public init(_ result: Result<StoreEvent, StoreError>, noValueOnSuccess: Bool = false,
                trimPrefix: String = KeyPath.userPrefix) {
        switch result {
        case .success(let e):
            self.init(status: e.httpStatus, etcdIndex: e.etcdIndex,
                      body: V2JSON.encode(e, trimPrefix: trimPrefix, noValueOnSuccess: noValueOnSuccess),
                      isError: false)
        case .failure(let e):
            self.init(status: e.httpStatus, etcdIndex: e.index, body: V2JSON.encode(e, trimPrefix: trimPrefix),
                      isError: true)
        }
    }
}
