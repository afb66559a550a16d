import NIOConcurrencyHelpers

/// The members' client URLs a proxy forwards to, with etcd's failure handling: an endpoint that
/// failed is skipped for `failureWait`, then tried again. The order is shuffled on every refresh so
/// that many proxies do not all pick the same member.
final class ProxyEndpoints: Sendable {
    struct Entry: Sendable {
        var url: String
        var endpoint: HTTPEndpoint
        var failedUntil: ContinuousClock.Instant?
    }

    private let entries = NIOLockedValueBox([Entry]())
    let failureWait: Duration

    init(failureWait: Duration) { self.failureWait = failureWait }

    /// Replaces the list, keeping the failure marks of URLs that stay. URLs that are not plain
    /// `http://host:port` are left out (this proxy has no TLS client).
    func set(urls: [String]) {
        entries.withLockedValue { list in
            let old = Dictionary(list.map { ($0.url, $0.failedUntil) }, uniquingKeysWith: { a, _ in a })
            list = Array(Set(urls)).compactMap { url in
                guard url.hasPrefix("http://"), let endpoint = HTTPEndpoint(url: url) else { return nil }
                return Entry(url: url, endpoint: endpoint, failedUntil: old[url] ?? nil)
            }.shuffled()
        }
    }

    /// Endpoints not currently marked failed, in the current order.
    func available(now: ContinuousClock.Instant = .now) -> [Entry] {
        entries.withLockedValue { list in list.filter { $0.failedUntil.map { $0 <= now } ?? true } }
    }

    /// Every known URL, failed or not.
    var urls: [String] { entries.withLockedValue { $0.map(\.url) } }

    /// Holds `url` back for `failureWait`.
    func markFailed(_ url: String) {
        let until = ContinuousClock.now + failureWait
        entries.withLockedValue { list in
            for i in list.indices where list[i].url == url { list[i].failedUntil = until }
        }
    }
}
