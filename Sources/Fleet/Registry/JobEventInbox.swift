import Synchronization

/// One ``JobEventFeed`` subscriber's queue of routed events, bounded, that hands out everything
/// queued at once (``nextBatch()``) as well as one event at a time.
///
/// Why batches: when the engine writes 250 schedules for a machine at once (a dead machine's units,
/// a large `fleetctl start`), the agent's view must read each of those units. Taken one event at a
/// time, the reads ran one after another and every read woke the agent for a pass of its own, so
/// most units waited for a later pass. A batch lets ``RegistryAgentSource`` read them concurrently
/// and wake the agent once.
final class JobEventInbox: Sendable {
    private struct State {
        var events: [StoreWatchEvent] = []
        var head = 0
        var finished = false
        var count: Int { events.count - head }
    }

    private let capacity: Int
    private let state = Mutex(State())
    /// Wakes the consumer after a push or finish; coalesces (it only means "look again").
    private let signal: AsyncStream<Void>.Continuation
    private let signals: AsyncStream<Void>

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Events queued and not yet taken.
    var queued: Int { state.withLock { $0.count } }

    /// Queues `event`; false when the inbox is full or finished (the subscriber is then dropped).
    func push(_ event: StoreWatchEvent) -> Bool {
        let queued = state.withLock { s -> Bool in
            guard !s.finished, s.count < capacity else { return false }
            s.events.append(event)
            return true
        }
        if queued { signal.yield() }
        return queued
    }

    /// No more events: the consumer gets what is queued, then nil.
    func finish() {
        state.withLock { $0.finished = true }
        signal.yield()
    }

    /// Every queued event, in order, waiting for at least one; nil once finished and drained.
    /// One consumer only.
    func nextBatch() async -> [StoreWatchEvent]? {
        var wake = signals.makeAsyncIterator()
        while true {
            let taken = state.withLock { s -> [StoreWatchEvent]?? in
                if s.count > 0 {
                    let batch = Array(s.events[s.head...])
                    s.events.removeAll(keepingCapacity: true)
                    s.head = 0
                    return .some(batch)
                }
                return s.finished ? .some(nil) : nil
            }
            if let taken { return taken }
            guard await wake.next() != nil else { return nil }
        }
    }

    /// The oldest queued event, waiting for one; nil once finished and drained. One consumer only.
    func next() async -> StoreWatchEvent? {
        var wake = signals.makeAsyncIterator()
        while true {
            let taken = state.withLock { s -> StoreWatchEvent?? in
                if s.count > 0 {
                    let event = s.events[s.head]
                    s.head += 1
                    if s.head == s.events.count {
                        s.events.removeAll(keepingCapacity: true)
                        s.head = 0
                    } else if s.head >= 1024 && s.head * 2 >= s.events.count {
                        s.events.removeFirst(s.head)
                        s.head = 0
                    }
                    return .some(event)
                }
                return s.finished ? .some(nil) : nil
            }
            if let taken { return taken }
            guard await wake.next() != nil else { return nil }
        }
    }
}
