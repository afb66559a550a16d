import Testing
@testable import KV

/// `FormValues` decodes like Go's `url.ParseQuery`: etcd's answers to odd forms come from it.
@Suite struct FormValuesTests {
    func parsed(_ text: String) -> (FormValues, String?) {
        var form = FormValues()
        let error = form.parse(text)
        return (form, error)
    }

    @Test func pairsAreSplitAndUnescaped() {
        let (form, error) = parsed("value=a+b%2Fc%3d&ttl=5&&dir&empty=&=anon&é=ü%C3%BC")
        #expect(error == nil)
        #expect(form.first("value") == "a b/c=")
        #expect(form.first("ttl") == "5")
        #expect(form.first("dir") == "", "a name without '=' has an empty value")
        #expect(form.first("empty") == "")
        #expect(form.first("") == "anon")
        #expect(form.first("é") == "üü")
        #expect(form.values.count == 6, "empty pairs between '&&' are skipped")
    }

    @Test func repeatedNamesKeepEveryValueInOrder() {
        let (form, _) = parsed("a=1&a=2+3&a")
        #expect(form.values["a"] == ["1", "2 3", ""])
    }

    @Test func badPairsAreReportedAndSkippedWhileGoodOnesAreKept() {
        let (form, error) = parsed("a=%zz&b=2&c=1;d=2&e=%4")
        #expect(error == #"invalid URL escape "%zz""#, "the first error is the one reported")
        #expect(form.first("b") == "2")
        #expect(!form.has("a") && !form.has("c") && !form.has("e"))
        // The name ends at the first '=', so its escape is cut short there (Go: `"%"`).
        #expect(parsed("k%=v").1 == #"invalid URL escape "%""#)
        #expect(parsed("x=1;").1 == "invalid semicolon separator in query")
    }
}
