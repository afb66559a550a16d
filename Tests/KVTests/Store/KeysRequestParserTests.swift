import Testing
@testable import KV

@Suite struct KeysRequestParserTests {
    func parse(_ method: String, _ query: String, body: String? = nil, key: String = "/k")
        -> Result<ParsedKeysRequest, StoreError>
    {
        KeysRequestParser.parse(method: method, key: key, query: query, body: body, maxValueSize: 16)
    }

    func error(_ method: String, _ query: String, body: String? = nil) -> StoreError? {
        if case .failure(let e) = parse(method, query, body: body) { return e }
        return nil
    }

    func op(_ method: String, _ query: String, body: String? = nil, key: String = "/k") -> KeysRequest? {
        try? parse(method, query, body: body, key: key).get().request
    }

    @Test func malformedParameters() {
        #expect(error("PUT", "value=%zz") == StoreError(.invalidForm, cause: #"invalid URL escape "%zz""#))
        #expect(error("PUT", "value=%4") == StoreError(.invalidForm, cause: #"invalid URL escape "%4""#))
        #expect(error("PUT", "a=1;b=2") == StoreError(.invalidForm, cause: "invalid semicolon separator in query"))
        #expect(error("PUT", "prevIndex=abc") == StoreError(.indexNaN, cause: #"invalid value for "prevIndex""#))
        #expect(error("GET", "wait=true&waitIndex=abc") == StoreError(.indexNaN, cause: #"invalid value for "waitIndex""#))
        #expect(error("GET", "waitIndex=-1") == StoreError(.indexNaN, cause: #"invalid value for "waitIndex""#))
        for name in ["recursive", "sorted", "wait", "dir", "quorum", "stream", "noValueOnSuccess"] {
            #expect(error("GET", "\(name)=maybe") == StoreError(.invalidField, cause: "invalid value for \"\(name)\""))
        }
        #expect(error("GET", "recursive=") == StoreError(.invalidField, cause: #"invalid value for "recursive""#))
        #expect(error("PUT", "wait=true") == StoreError(.invalidField, cause: #""wait" can only be used with GET requests"#))
        #expect(error("HEAD", "wait=true") == StoreError(.invalidField, cause: #""wait" can only be used with GET requests"#))
        #expect(error("PUT", "prevValue=") == StoreError(.prevValueRequired, cause: #""prevValue" cannot be empty"#))
        #expect(error("PUT", "ttl=abc") == StoreError(.ttlNaN, cause: #"invalid value for "ttl""#))
        #expect(error("PUT", "ttl=-1") == StoreError(.ttlNaN, cause: #"invalid value for "ttl""#))
        #expect(error("PUT", "prevExist=maybe") == StoreError(.invalidField, cause: "invalid value for prevExist"))
        #expect(error("PUT", "refresh=maybe&ttl=1") == StoreError(.invalidField, cause: "invalid value for refresh"))
        #expect(error("PUT", "refresh=true&ttl=5&value=x") == StoreError(.refreshValue, cause: "A value was provided on a refresh"))
        #expect(error("PUT", "refresh=true") == StoreError(.refreshTTLRequired, cause: "No TTL value set"))
        #expect(error("PUT", "refresh=true&ttl=") == StoreError(.refreshTTLRequired, cause: "No TTL value set"))
        #expect(error("PUT", "value=" + String(repeating: "x", count: 17)) ==
            StoreError(.raftInternal, cause: "etcdserver: request is too large"))
        #expect(error("PUT", "value=" + String(repeating: "x", count: 16)) == nil)
        #expect(error("PUT", "prevIndex=1", body: "x=%") == StoreError(.invalidForm, cause: #"invalid URL escape "%""#))
        // check order: prevIndex (203) before booleans (209)
        #expect(error("PUT", "recursive=x&prevIndex=x")?.code == .indexNaN)
        #expect(error("PUT", "ttl=x&prevValue=")?.code == .prevValueRequired)
        #expect(error("PUT", "unknown=%zz")?.code == .invalidForm)
    }

    @Test func errorsHaveIndexZeroAndParseErrorsAre400() {
        let h = Harness()
        #expect(h.put("/k", "ttl=abc") == .init(status: 400, index: 0, body:
            #"{"errorCode":202,"message":"The given TTL in POST form is not a number","cause":"invalid value for \"ttl\"","index":0}"# + "\n"))
    }

    @Test func booleansAndIntegers() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            #expect(op("GET", "recursive=\(t)") == .get(key: "/1/k", recursive: true, sorted: false))
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            #expect(op("GET", "recursive=\(f)") == .get(key: "/1/k", recursive: false, sorted: false))
        }
        #expect(op("GET", "wait=true&waitIndex=18446744073709551615") ==
            .watch(key: "/1/k", recursive: false, stream: false, waitIndex: UInt64.max))
        #expect(error("GET", "waitIndex=18446744073709551616")?.code == .indexNaN)
        #expect(error("GET", "waitIndex=+1")?.code == .indexNaN)
    }

    @Test func dispatch() {
        #expect(op("PUT", "value=v") == .propose(.set(key: "/1/k", value: "v", dir: false, ttl: nil, refresh: false)))
        #expect(op("PUT", "dir=true&ttl=5") == .propose(.set(key: "/1/k", value: "", dir: true, ttl: 5, refresh: false)))
        #expect(op("PUT", "value=v&ttl=") == .propose(.set(key: "/1/k", value: "v", dir: false, ttl: nil, refresh: false)))
        #expect(op("PUT", "value=v&prevExist=true") == .propose(.update(key: "/1/k", value: "v", ttl: nil, refresh: false)))
        #expect(op("PUT", "value=v&prevExist=true&prevIndex=3") ==
            .propose(.compareAndSwap(key: "/1/k", value: "v", prevValue: "", prevIndex: 3, ttl: nil, refresh: false)))
        #expect(op("PUT", "value=v&prevExist=false&dir=false") ==
            .propose(.create(key: "/1/k", value: "v", dir: false, ttl: nil, inOrder: false)))
        #expect(op("PUT", "value=v&prevValue=a") ==
            .propose(.compareAndSwap(key: "/1/k", value: "v", prevValue: "a", prevIndex: 0, ttl: nil, refresh: false)))
        #expect(op("PUT", "value=v&prevIndex=0") == .propose(.set(key: "/1/k", value: "v", dir: false, ttl: nil, refresh: false)))
        #expect(op("PUT", "refresh=true&ttl=9") == .propose(.set(key: "/1/k", value: "", dir: false, ttl: 9, refresh: true)))
        #expect(op("POST", "value=j&ttl=10&dir=false") == .propose(.create(key: "/1/k", value: "j", dir: false, ttl: 10, inOrder: true)))
        #expect(op("DELETE", "recursive=true") == .propose(.delete(key: "/1/k", dir: false, recursive: true)))
        #expect(op("DELETE", "dir=true") == .propose(.delete(key: "/1/k", dir: true, recursive: false)))
        #expect(op("DELETE", "prevIndex=4") == .propose(.compareAndDelete(key: "/1/k", prevValue: "", prevIndex: 4)))
        #expect(op("GET", "quorum=true&wait=true&recursive=true") == .propose(.get(key: "/1/k", recursive: true, sorted: false)))
        #expect(op("GET", "wait=true&recursive=true&stream=true&waitIndex=7") ==
            .watch(key: "/1/k", recursive: true, stream: true, waitIndex: 7))
        #expect(op("HEAD", "sorted=true") == .get(key: "/1/k", recursive: false, sorted: true))
        #expect(op("GET", "", key: "") == .get(key: "/1", recursive: false, sorted: false))
        #expect(op("GET", "", key: "/a/b/") == .get(key: "/1/a/b", recursive: false, sorted: false))
        #expect((try? parse("PUT", "noValueOnSuccess=true").get().noValueOnSuccess) == true)
    }

    @Test func formBodyAndQuery() {
        // body values come first; only the first value counts; '+' is a space
        #expect(op("PUT", "value=fromQuery", body: "value=from+body") ==
            .propose(.set(key: "/1/k", value: "from body", dir: false, ttl: nil, refresh: false)))
        #expect(op("PUT", "value=a&value=b") == .propose(.set(key: "/1/k", value: "a", dir: false, ttl: nil, refresh: false)))
        // DELETE bodies are not read
        #expect(op("DELETE", "", body: "recursive=true") == .propose(.delete(key: "/1/k", dir: false, recursive: false)))
        #expect(op("PUT", "", body: "ttl=30&value=v2") == .propose(.set(key: "/1/k", value: "v2", dir: false, ttl: 30, refresh: false)))
        #expect(op("PUT", "&&value=x&") == .propose(.set(key: "/1/k", value: "x", dir: false, ttl: nil, refresh: false)))
        #expect(op("PUT", "value") == .propose(.set(key: "/1/k", value: "", dir: false, ttl: nil, refresh: false)))
    }

    @Test func keyPathCanonicalisation() {
        #expect(KeyPath.canonical("") == "/")
        #expect(KeyPath.canonical("a/b/") == "/a/b")
        #expect(KeyPath.canonical("/a//b/./c/..") == "/a/b")
        #expect(KeyPath.canonical("/../..") == "/")
        #expect(KeyPath.userKey("/../0/members") == "/1/0/members")
        #expect(KeyPath.userKey("/") == "/1")
        #expect(KeyPath.isHidden(watchPath: "/1", keyPath: "/1/_a"))
        #expect(KeyPath.isHidden(watchPath: "/1", keyPath: "/1/a/_b/c"))
        #expect(!KeyPath.isHidden(watchPath: "/1/_a", keyPath: "/1/_a/b"))
        #expect(!KeyPath.isHidden(watchPath: "/1/a/b", keyPath: "/1/a"))
        #expect(KeyPath.isWithin("/a/b", dir: "/a"))
        #expect(!KeyPath.isWithin("/ab", dir: "/a"))
    }

    /// The fast path (a key already clean is returned as is) agrees with cleaning segment by
    /// segment on every path of up to six characters over `/`, `.`, `a`.
    @Test func canonicalFastPathAgreesWithCleaning() {
        func cleaned(_ p: String) -> String {
            var out: [Substring] = []
            for seg in p.split(separator: "/", omittingEmptySubsequences: true) where seg != "." {
                if seg == ".." { if !out.isEmpty { out.removeLast() } } else { out.append(seg) }
            }
            return "/" + out.joined(separator: "/")
        }
        var paths = [""]
        var fast = 0
        for _ in 1...6 {
            paths = paths.flatMap { [$0 + "/", $0 + ".", $0 + "a"] }
            for p in paths {
                #expect(KeyPath.canonical(p) == cleaned(p), "\(p)")
                if KeyPath.isCanonical(p.utf8) {
                    fast += 1
                    #expect(cleaned(p) == p, "\(p) taken for clean")
                }
            }
        }
        #expect(fast > 20, "clean paths take the fast path")
        #expect(KeyPath.isCanonical("/...".utf8) && KeyPath.isCanonical("/a/..b".utf8))
        #expect(!KeyPath.isCanonical("/a/..".utf8) && !KeyPath.isCanonical("/a/".utf8) && !KeyPath.isCanonical("a".utf8))
    }

    @Test func formPairsAreSplitOnBytes() {
        // Multi-byte characters next to the separators, escapes and `+` inside values.
        #expect(op("PUT", "value=%C3%A9t%C3%A9&ttl=5") ==
            .propose(.set(key: "/1/k", value: "été", dir: false, ttl: 5, refresh: false)))
        #expect(op("PUT", "", body: "value=é=x+y&dir=false") ==
            .propose(.set(key: "/1/k", value: "é=x y", dir: false, ttl: nil, refresh: false)))
        #expect(op("PUT", "=v&value=&value=z") == .propose(.set(key: "/1/k", value: "", dir: false, ttl: nil, refresh: false)))
    }
}
