#if canImport(Glibc)
import Glibc
#endif

/// Starts `body` on a detached OS thread of its own. sd-bus connections and journal handles belong
/// to one thread at a time, so each gets a thread that blocks in poll instead of a concurrency thread.
/// Throws the pthread error code when no thread could be made.
func startDetachedThread(_ body: @escaping @Sendable () -> Void) throws(SystemdError) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { context in
        Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
        return nil
    }, context)
    guard result == 0 else {
        Unmanaged<Box>.fromOpaque(context).release()
        throw SystemdError.call(operation: "starting a thread", code: result)
    }
    pthread_detach(thread)
}
