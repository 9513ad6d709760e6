import SwannServer
import Testing

/// The scanner behind the duplicate-key refusal: repeats within one object only.
struct DuplicateKeyCheckTests {
    static func duplicate(_ json: String) -> String? {
        DuplicateKeyCheck.firstDuplicate(in: Array(json.utf8))?.key
    }

    @Test func sameKeyInDifferentObjectsOrArrayElementsIsFine() {
        #expect(Self.duplicate(#"{"a": {"b": 1}, "c": {"b": 2}}"#) == nil)
        #expect(Self.duplicate(#"[{"a": 1}, {"a": 2}]"#) == nil)
        #expect(Self.duplicate(#"{"a": ["a", "a"], "b": "a"}"#) == nil)
        #expect(Self.duplicate(#"{"a": {"x": 1}, "b": [{"x": 1}, {"x": [1, {"x": 2}]}]}"#) == nil)
    }

    @Test func repeatsAreFoundAtAnyDepthAndSpelling() {
        #expect(Self.duplicate(#"{"k": 1, "k": 2}"#) == "k")
        #expect(Self.duplicate(#"{"q": {"m": 1, "n": {"z": 0}, "m": 2}}"#) == "m")
        #expect(Self.duplicate(#"{"k": 1, "\u006b": 2}"#) == "k")
        #expect(Self.duplicate(#"{"a\"b": 1, "a\"b": 2}"#) == "a\"b")
        #expect(Self.duplicate(#"{"v": "{\"k\": 1, \"k\": 2}"}"#) == nil, "keys inside a string value are text")
        #expect(DuplicateKeyCheck.firstDuplicate(in: Array(#"{"k": 1, "k": 2}"#.utf8))?.offset == 9)
    }

    @Test func malformedInputStopsQuietly() {
        #expect(Self.duplicate(#"{"k": 1, "k"#) == nil)
        #expect(Self.duplicate(#"{"k\"#) == nil)
        #expect(Self.duplicate("}}]]{") == nil)
    }
}
