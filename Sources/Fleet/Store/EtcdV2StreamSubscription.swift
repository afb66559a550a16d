import Foundation
import KV
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// ``StoreWatchSubscription`` for ``EtcdV2Client``: one `stream=true` watch that stays registered,
/// each event a JSON line, instead of one long poll per event.
///
/// Why: over HTTP the polling subscription pays a request, a registration and a response per
/// event; a worker following `job/` while 1,000 units are created fell behind the store's
/// 1,000-event history and re-read all of `job/` again and again (measured: most of the worker's
/// CPU during the submission went to those re-reads).
///
/// Gapless with our members and with a real etcd alike. etcd answers a stream watch that starts in
/// the past with the first matching event only, so the stream is always registered from the next
/// write (its `X-Etcd-Index` is the store index `C` then) and the events between the last one
/// handed out and `C` are fetched first with one-shot watches, which the store answers from its
/// history. When the server ends the stream (it closes watchers that fall behind, as etcd does)
/// or the connection fails, the same is done again, on another endpoint if need be; events the
/// history no longer holds surface as ``StoreClientError/historyCleared(currentIndex:)``.
///
/// Failure: when any request of the client finds the stream's endpoint failing (no answer within its
/// timeout, refused, reset) the stream is closed and registered again, that endpoint tried last. And
/// after the client's watch window without a byte the endpoint is asked whether it is healthy
/// (``EtcdV2Client/answers(_:)``): a member killed or partitioned without a reset, or one cut off from
/// its peers that still answers from a store that no longer changes, is left the same way.
///
/// One consumer at a time calls ``next()``; ``cancel()`` may come from any task.
final class EtcdV2StreamSubscription: StoreWatchSubscription, @unchecked Sendable {
    private let client: EtcdV2Client
    private let key: String
    private let recursive: Bool
    private let cancelled = Atomic<Bool>(false)
    /// The open stream, so ``cancel()`` can close it from another task.
    private let open = Mutex<HTTPClientStream?>(nil)
    /// An endpoint found failing while it served the stream: the next registration tries it last.
    private let failed = NIOLockedValueBox<HTTPEndpoint?>(nil)

    // Consumer-only state (``next()``).
    /// The index after the last event handed out.
    private var nextIndex: UInt64
    /// Every matching event at or below this index has been fetched (the last stream's `C`, once
    /// its gap is fetched).
    private var coveredIndex: UInt64 = 0
    /// While the gap before the current stream is being fetched: the index to fetch from next.
    private var gapCursor: UInt64?
    /// The current stream's registration index `C`: the gap ends there, the stream starts after.
    private var gapEnd: UInt64 = 0
    private var iterator: AsyncThrowingStream<ByteBuffer, Error>.AsyncIterator?
    private var endpoint: HTTPEndpoint?
    /// Decoded events not yet handed out, oldest first (`pendingStart` is the next one).
    private var pending: [StoreWatchEvent] = []
    private var pendingStart = 0
    /// Bytes of a line not complete yet.
    private var partial: [UInt8] = []

    init(client: EtcdV2Client, key: String, recursive: Bool, fromIndex: UInt64) {
        self.client = client
        self.key = key
        self.recursive = recursive
        self.nextIndex = max(fromIndex, 1)
    }

    deinit { client.forgetFailureAction(id: ObjectIdentifier(self)) }

    func next() async throws -> StoreWatchEvent? {
        while true {
            if cancelled.load(ordering: .acquiring) || Task.isCancelled {
                drop()
                return nil
            }
            if let event = takePending() { return event }
            if iterator == nil {
                try await register()
                continue
            }
            if let cursor = gapCursor {
                try await fetchGap(from: cursor)
                continue
            }
            let chunk: ByteBuffer?
            do {
                chunk = try await iterator!.next()
            } catch {
                drop()  // connection failed: register again (another endpoint if need be)
                continue
            }
            guard let chunk else {
                drop()  // the server ended the stream (slow watcher, restore): register again
                continue
            }
            if chunk.readableBytes == 0 {
                // An idle tick: keep the stream while its endpoint is healthy (else ``answers(_:)``
                // reports it, which closes the stream: the next registration tries it last).
                if let endpoint, await !client.answers(endpoint) { drop() }
                continue
            }
            try absorb(chunk)
        }
    }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        open.withLock { $0 }?.close()
        client.forgetFailureAction(id: ObjectIdentifier(self))
    }

    /// The next pending event not already handed out, advancing `nextIndex`.
    private func takePending() -> StoreWatchEvent? {
        while pendingStart < pending.count {
            let event = pending[pendingStart]
            pendingStart += 1
            if pendingStart == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingStart = 0
            }
            guard event.node.modifiedIndex >= nextIndex else { continue }
            nextIndex = event.node.modifiedIndex + 1
            return event
        }
        return nil
    }

    /// Registers the stream from the next write (index `C`); the events between the last one handed
    /// out and `C` are then fetched one by one (``fetchGap(from:)``) before the stream is read.
    private func register() async throws {
        let avoid = failed.withLockedValue { endpoint in
            defer { endpoint = nil }
            return endpoint
        }
        let (stream, endpoint, storeIndex) = try await client.openWatchStream(key, recursive: recursive, avoiding: avoid)
        open.withLock { $0 = stream }
        if cancelled.load(ordering: .acquiring) { stream.close() }
        // Another request finding this endpoint failing (e.g. the heartbeat, every second or so)
        // ends the stream at once; the idle tick alone would take the client's watch window.
        client.onFailure(of: endpoint, id: ObjectIdentifier(self)) { [failed] in
            failed.withLockedValue { $0 = endpoint }
            stream.close()
        }
        self.iterator = stream.body.makeAsyncIterator()
        self.endpoint = endpoint
        partial.removeAll()
        let cursor = max(nextIndex, coveredIndex + 1)
        gapEnd = storeIndex
        gapCursor = cursor <= storeIndex ? cursor : nil
        if gapCursor == nil { coveredIndex = max(coveredIndex, storeIndex) }
    }

    /// Fetches the next event of the gap with a one-shot watch (the store answers it from its
    /// history) and queues it, so each is handed out as soon as it is known.
    ///
    /// When no matching event is left between `cursor` and `gapEnd`, the watch waits for the next
    /// matching write, which the stream brings too: then the gap is complete and nothing was missed.
    /// Collecting the whole gap before handing out any of it would hold back events already
    /// fetched until some later write (a worker whose stream moved to another member after a
    /// partition never heard of a unit scheduled to it, because nothing under `job/` followed).
    private func fetchGap(from cursor: UInt64) async throws {
        let event: StoreWatchEvent
        do {
            event = try await client.waitForChange(key, recursive: recursive, fromIndex: cursor)
        } catch {
            drop()
            throw error
        }
        guard event.node.modifiedIndex <= gapEnd else {
            // The first matching event after the registration: the stream brings it.
            finishGap()
            return
        }
        pending.append(event)
        if event.node.modifiedIndex < gapEnd {
            gapCursor = event.node.modifiedIndex + 1
        } else {
            finishGap()
        }
    }

    private func finishGap() {
        gapCursor = nil
        coveredIndex = max(coveredIndex, gapEnd)
    }

    /// Splits the stream into lines (a raw newline only ends an event: JSON escapes those inside
    /// strings) and decodes each complete one.
    private func absorb(_ chunk: ByteBuffer) throws {
        var lineStart = 0
        var bytes = partial
        bytes.append(contentsOf: chunk.readableBytesView)
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            if i > lineStart {
                let line = ByteBuffer(bytes: bytes[lineStart..<i])
                pending.append(try client.decode(StoreWatchEvent.self, line))
            }
            lineStart = i + 1
        }
        partial = Array(bytes[lineStart...])
    }

    private func drop() {
        open.withLock { stream in
            stream?.close()
            stream = nil
        }
        iterator = nil
        endpoint = nil
        partial.removeAll()
        gapCursor = nil  // the next registration fetches the gap again from `nextIndex`
    }
}
