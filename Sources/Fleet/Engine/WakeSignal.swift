import Foundation

/// A coalescing wake-up for a single waiting loop: any number of ``notify()`` calls before the next
/// ``wait(timeout:)`` count as one. The engine's watch notifies it; the run loop waits on it with
/// its next periodic deadline as the timeout.
final class WakeSignal: @unchecked Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
        var timer: Task<Void, Never>?
    }

    private let lock = NSLock()
    private var pending = false
    private var waiter: Waiter?
    private var nextID: UInt64 = 0

    /// Wakes the waiter, or the next one if none is waiting.
    func notify() {
        let woken: Waiter? = lock.withLock {
            if let w = waiter {
                waiter = nil
                return w
            }
            pending = true
            return nil
        }
        woken?.timer?.cancel()
        woken?.continuation.resume(returning: true)
    }

    /// Waits for a notification; true if notified, false on timeout or task cancellation.
    func wait(timeout: Duration) async -> Bool {
        let id: UInt64 = lock.withLock {
            nextID += 1
            return nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = lock.withLock {
                    if pending {
                        pending = false
                        return true
                    }
                    if Task.isCancelled || timeout <= .zero { return false }
                    waiter = Waiter(id: id, continuation: continuation, timer: nil)
                    return nil
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                    return
                }
                let timer = Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    self?.expire(id)
                }
                lock.withLock { if waiter?.id == id { waiter?.timer = timer } }
            }
        } onCancel: {
            self.expire(id)
        }
    }

    private func expire(_ id: UInt64) {
        let expired: Waiter? = lock.withLock {
            guard let w = waiter, w.id == id else { return nil }
            waiter = nil
            return w
        }
        expired?.timer?.cancel()
        expired?.continuation.resume(returning: false)
    }
}
