extension StoreCore {
    /// Dispatches a replicated command (see `Store.apply`).
    mutating func apply(_ command: StoreCommand) -> StoreOutcome {
        let outcome = dispatch(command)
        stats.record(command.operation, outcome)
        return outcome
    }

    /// A local GET, counted in the stats.
    mutating func countedGet(_ key: String, recursive: Bool, sorted: Bool, now: Int64) -> Result<StoreEvent, StoreError> {
        let outcome: StoreOutcome
        do throws(StoreError) {
            outcome = .event(try get(key, recursive: recursive, sorted: sorted, now: now))
        } catch {
            outcome = .failure(error)
        }
        stats.record(.get(key: key, recursive: recursive, sorted: sorted), outcome)
        return outcome.result!
    }

    private mutating func dispatch(_ command: StoreCommand) -> StoreOutcome {
        let now = command.now
        do throws(StoreError) {
            switch command.operation {
            case let .set(key, value, dir, ttl, refresh):
                return .event(try set(key, dir: dir, value: value, expireTime: TTL.expireTime(now: now, ttl: ttl),
                                      refresh: refresh, now: now))
            case let .create(key, value, dir, ttl, inOrder):
                return .event(try create(key, dir: dir, value: value, unique: inOrder,
                                         expireTime: TTL.expireTime(now: now, ttl: ttl), now: now))
            case let .update(key, value, ttl, refresh):
                return .event(try update(key, value: value, expireTime: TTL.expireTime(now: now, ttl: ttl),
                                         refresh: refresh, now: now))
            case let .compareAndSwap(key, value, prevValue, prevIndex, ttl, refresh):
                return .event(try compareAndSwap(key, prevValue: prevValue, prevIndex: prevIndex, value: value,
                                                 expireTime: TTL.expireTime(now: now, ttl: ttl), refresh: refresh,
                                                 now: now))
            case let .delete(key, dir, recursive):
                return .event(try delete(key, dir: dir, recursive: recursive, now: now))
            case let .compareAndDelete(key, prevValue, prevIndex):
                return .event(try compareAndDelete(key, prevValue: prevValue, prevIndex: prevIndex, now: now))
            case let .get(key, recursive, sorted):
                return .event(try get(key, recursive: recursive, sorted: sorted, now: now))
            case .expire:
                return .expired(expire(now: now))
            }
        } catch {
            return .failure(error)
        }
    }
}
