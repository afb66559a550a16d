/// Runs many independent requests with a bounded number in flight.
///
/// fleetctl submitting 1,000 units, the engine writing 1,000 schedule entries and the agent enqueueing
/// 1,000 systemd jobs each spent most of their time waiting for one round trip after another. Issuing
/// them concurrently hides the latency; the bound keeps a burst from opening a thousand connections
/// at once or flooding systemd's bus queue.
public enum BoundedConcurrency {
    /// The default number of requests in flight (fleetctl, engine, agent).
    public static let defaultLimit = 32

    /// `body` applied to every item, at most `limit` at a time; the results come back in the order of
    /// `items`, whatever order the calls finish in. `limit` below 1 counts as 1 (one at a time).
    public static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item], limit: Int = defaultLimit, _ body: @escaping @Sendable (Item) async -> Output
    ) async -> [Output] {
        guard items.count > 1 else { return await items.asyncMap(body) }
        let limit = max(1, limit)
        return await withTaskGroup(of: (Int, Output).self) { group in
            var results = [Output?](repeating: nil, count: items.count)
            var next = 0
            while next < min(limit, items.count) {
                let index = next
                let item = items[index]
                group.addTask { (index, await body(item)) }
                next += 1
            }
            while let (index, output) = await group.next() {
                results[index] = output
                if next < items.count {
                    let index = next
                    let item = items[index]
                    group.addTask { (index, await body(item)) }
                    next += 1
                }
            }
            return results.map { $0! }
        }
    }
}

extension Array {
    /// `map` with an async transform, one element after another.
    fileprivate func asyncMap<Output>(_ body: (Element) async -> Output) async -> [Output] {
        var out: [Output] = []
        out.reserveCapacity(count)
        for element in self { out.append(await body(element)) }
        return out
    }
}
