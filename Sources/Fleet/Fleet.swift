/// The orchestration layer: registry schema, engine and scheduler, agent, unit files, cloud-config, fleet API.
public enum FleetModule {
    /// Version reported by fleetd and fleetctl.
    public static let version = "0.1.0"
}
