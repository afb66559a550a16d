/// The replicated key-value store: Raft core, WAL and snapshots, the v2 store and its HTTP API, peers.
///
/// The Raft core (`Raft/`) is a pure state machine; storage, network and clocks live at the edges.
public enum KVModule {
    /// Version reported by `/version` and `fleetd --version`.
    public static let version = "0.1.0"
}
