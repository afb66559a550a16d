/// Conversion between a parsed ``UnitFile`` and the option list the HTTP API carries, so that a
/// client submits exactly the options (and therefore the hash) the server stores.
extension UnitFile {
    /// The options as API `{"section","name","value"}` entries, in file order.
    public var apiOptions: [APIUnitOption] {
        options.map { APIUnitOption(section: $0.section, name: $0.name, value: $0.value) }
    }

    /// A unit built from API options; throws when they could not be serialised to a unit file.
    public init(apiOptions: [APIUnitOption]) throws(UnitFileError) {
        try self.init(options: apiOptions.map { UnitOption(section: $0.section, name: $0.name, value: $0.value) })
    }
}

extension APIUnit {
    /// The unit's options as a ``UnitFile``; nil when the server sent options that do not form one.
    public var unitFile: UnitFile? { try? UnitFile(apiOptions: options) }

    /// The content hash fleet shows in `HASH` columns (SHA-1 of the canonical serialisation).
    public var unitHash: UnitHash? { unitFile?.hash }

    /// Whether `[X-Fleet] Global=` makes this a global unit (last value wins, fleet's truthy words).
    /// Global units have no current state or target machine; fleetctl never blocks on them.
    public var isGlobal: Bool {
        guard let file = unitFile, let name = try? UnitName(name) else { return false }
        return (try? XFleetOptions(unit: file, name: name))?.isGlobal ?? false
    }
}
