import NIOCore

/// Runs a task's jobs on one NIO event loop.
///
/// A request that has to wait (a proposal, a quorum read, a watch) is answered by a task. On the
/// global executor that task costs two thread hops per request: from the event loop to the
/// cooperative pool, and back to the event loop to write the answer. Preferring the connection's
/// own event loop runs the task's code where its response is written, so a write's only hops are
/// to the Raft loop and back. The task only ever awaits (it never blocks), so the loop stays free
/// for other connections while it waits.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
