import Testing
@testable import KV

@Suite struct V2JSONTests {
    func str(_ s: String) -> String {
        var o = ""
        V2JSON.appendString(s, to: &o)
        return o
    }

    @Test func goEscaping() {
        #expect(str("plain") == #""plain""#)
        #expect(str("a\"b\\c") == #""a\"b\\c""#)
        #expect(str("<b>&</b>") == #""\u003cb\u003e\u0026\u003c/b\u003e""#)
        #expect(str("l1\nl2\r\t") == #""l1\nl2\r\t""#)
        #expect(str("\u{0}\u{1}\u{8}\u{c}\u{1f}") == #""\u0000\u0001\u0008\u000c\u001f""#)
        #expect(str("\u{2028}\u{2029}") == #""\u2028\u2029""#)
        #expect(str("é☃😀/\u{7f}") == "\"é☃😀/\u{7f}\"")
        // Neighbours of U+2028/U+2029 share their first two UTF-8 bytes but stay verbatim.
        #expect(str("\u{2027}a\u{202a}\u{2028}b") == "\"\u{2027}a\u{202a}\\u2028b\"")
    }

    @Test func fieldOrderAndOmission() {
        let full = NodeView(key: "/1/d", value: nil, dir: true, expiration: 1_795_473_700_321_383_831, ttl: 100,
                            nodes: [NodeView(key: "/1/d/x", value: "", modifiedIndex: 14, createdIndex: 14)],
                            modifiedIndex: 13, createdIndex: 13)
        var o = ""
        V2JSON.appendNode(full, trimPrefix: "/1", to: &o)
        #expect(o == #"{"key":"/d","dir":true,"expiration":"2026-11-23T22:41:40.321383831Z","ttl":100,"nodes":[{"key":"/d/x","value":"","modifiedIndex":14,"createdIndex":14}],"modifiedIndex":13,"createdIndex":13}"#)
        o = ""
        V2JSON.appendNode(NodeView(key: "/1", dir: true, nodes: []), trimPrefix: "/1", to: &o)
        #expect(o == #"{"dir":true}"#)
        o = ""
        V2JSON.appendNode(NodeView(key: "/0/version", value: "3.4.0", modifiedIndex: 2, createdIndex: 2),
                          trimPrefix: "/1", to: &o)
        #expect(o == #"{"key":"/0/version","value":"3.4.0","modifiedIndex":2,"createdIndex":2}"#)
    }

    @Test func errorBodies() {
        #expect(V2JSON.encode(StoreError(.keyNotFound, cause: "/1/message", index: 9)) ==
            #"{"errorCode":100,"message":"Key not found","cause":"/message","index":9}"# + "\n")
        #expect(V2JSON.encode(StoreError(.notFile, cause: "/1", index: 3)) ==
            #"{"errorCode":102,"message":"Not a file","index":3}"# + "\n")
        #expect(V2JSON.encode(StoreError(.raftInternal, cause: "etcdserver: request timed out")) ==
            #"{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}"# + "\n")
        #expect(V2JSON.encode(StoreError(.invalidField, cause: #"invalid value for "recursive""#)) ==
            #"{"errorCode":209,"message":"Invalid field","cause":"invalid value for \"recursive\"","index":0}"# + "\n")
    }

    @Test func httpStatusTable() {
        let expected: [V2ErrorCode: Int] = [.keyNotFound: 404, .testFailed: 412, .nodeExist: 412, .notFile: 403,
                                            .dirNotEmpty: 403, .unauthorized: 401, .raftInternal: 500,
                                            .leaderElect: 500, .notDir: 400, .rootReadOnly: 400,
                                            .eventIndexCleared: 400, .watcherCleared: 400, .invalidForm: 400]
        for (c, s) in expected { #expect(c.httpStatus == s, "\(c)") }
        #expect(V2ErrorCode.refreshTTLRequired.message == "A TTL must be provided on refresh")
        #expect(V2ErrorCode.eventIndexCleared.message == "The event in requested index is outdated and cleared")
        #expect(StoreError(.keyNotFound, cause: "/ctl/missing", index: 11).description == "100: Key not found (/ctl/missing) [11]")
    }

    @Test func valuesWithSpecialCharactersRoundTrip() {
        let h = Harness()
        let r = h.put("/html", "value=%3Cscript%3Ealert(1)%26%22%3C%2Fscript%3E")
        #expect(r.body == #"{"action":"set","node":{"key":"/html","value":"\u003cscript\u003ealert(1)\u0026\"\u003c/script\u003e","modifiedIndex":4,"createdIndex":4}}"# + "\n")
    }

    @Test func statusCodes() {
        let h = Harness()
        #expect(h.put("/a", "value=1").status == 201)
        #expect(h.put("/a", "value=2").status == 200)
        #expect(h.put("/b", "prevExist=false").status == 201)
        #expect(h.post("/q").status == 201)
        #expect(h.put("/a", "prevExist=true&value=3").status == 200)
        #expect(h.delete("/a").status == 200)
    }
}
