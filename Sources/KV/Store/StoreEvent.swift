/// What a store operation did, as etcd names it in the `action` field.
public enum StoreAction: String, Sendable, Hashable, CaseIterable {
    case get
    case set
    case create
    case update
    case delete
    case compareAndSwap
    case compareAndDelete
    case expire
}

/// The result of a store operation or a watch notification (etcd's `Event`).
///
/// Events are values: the same instance is kept in the history, delivered to watchers and encoded
/// by `V2JSON`, so nothing downstream can alter the store.
public struct StoreEvent: Sendable, Hashable {
    public var action: StoreAction
    public var node: NodeView
    public var prevNode: NodeView?
    /// The store index to report in `X-Etcd-Index` (not part of the JSON body).
    public var etcdIndex: UInt64
    /// A TTL refresh: recorded in the history but never delivered to watchers (etcd semantics).
    public var isRefresh: Bool

    public init(action: StoreAction, node: NodeView, prevNode: NodeView? = nil, etcdIndex: UInt64,
                isRefresh: Bool = false) {
        self.action = action
        self.node = node
        self.prevNode = prevNode
        self.etcdIndex = etcdIndex
        self.isRefresh = isRefresh
    }

    /// The event's position in the history: the node's `modifiedIndex`.
    public var index: UInt64 { node.modifiedIndex }

    /// True when a node was created: `create`, or `set` of a key that did not exist. Such responses
    /// are `201 Created`.
    public var isCreated: Bool {
        action == .create || (action == .set && prevNode == nil)
    }

    /// HTTP status of a successful keys response carrying this event.
    public var httpStatus: Int { isCreated ? 201 : 200 }
}
