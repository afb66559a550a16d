import Synchronization

/// Why a bounded wait gave up.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "no answer within \(seconds) s" }
}

/// The continuation of ``withDeadline(seconds:_:)``, resumed by whichever comes first.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, work: Task<Void, Never>?)>((nil, nil))

    func set(_ continuation: CheckedContinuation<T, any Error>) { state.withLock { $0.continuation = continuation } }
    func set(_ work: Task<Void, Never>) { state.withLock { $0.work = work } }

    /// Resumes with `result` if nothing did yet; a timeout or cancellation also cancels the work.
    func finish(_ result: Result<T, any Error>, cancelWork: Bool) {
        let (continuation, work) = state.withLock { s in
            defer { s.continuation = nil }
            return (s.continuation, s.work)
        }
        guard let continuation else { return }
        continuation.resume(with: result)
        if cancelWork { work?.cancel() }
    }
}

/// Runs `body`, failing with ``DeadlineExceeded`` after `seconds` and cancelling it then.
///
/// Unlike a task group, this returns at the deadline even when `body` waits on something that
/// ignores cancellation (an NIO future), so a hung peer cannot hang the caller.
func withDeadline<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = FirstOutcome<T>()
    var timer: Task<Void, Never>?
    defer { timer?.cancel() }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            outcome.set(continuation)
            outcome.set(Task {
                do { outcome.finish(.success(try await body()), cancelWork: false) } catch {
                    outcome.finish(.failure(error), cancelWork: false)
                }
            })
            timer = Task {
                try? await Task.sleep(for: .nanoseconds(Int64(seconds * 1e9)))
                if Task.isCancelled { return }
                outcome.finish(.failure(DeadlineExceeded(seconds: seconds)), cancelWork: true)
            }
        }
    } onCancel: {
        outcome.finish(.failure(CancellationError()), cancelWork: true)
    }
}
