/// Finds a key that appears twice in one JSON object.
///
/// `JSONDecoder` accepts `{"k": 1, "k": 500}` and keeps one of the values without a word, so a
/// request can mean something other than what a reader of it sees (and proxies or auditing tools
/// may pick the other value). No package offers a strict mode, hence this scanner: one pass over
/// the bytes with a key set per open object. It does not validate JSON (the decoder does that
/// next); on malformed input it simply stops.
package enum DuplicateKeyCheck {
    /// The first repeated key and the byte offset where it repeats, or nil.
    package static func firstDuplicate(in bytes: some Collection<UInt8>) -> (key: String, offset: Int)? {
        var scanner = Scanner(bytes: Array(bytes))
        return scanner.run()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0
        /// Per open container: the keys seen so far, or nil for an array.
        var containers: [Set<String>?] = []
        /// Whether the next string in the current object is a key.
        var expectingKey = false

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func run() -> (key: String, offset: Int)? {
            while position < bytes.count {
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "{"):
                    containers.append([])
                    expectingKey = true
                case UInt8(ascii: "["):
                    containers.append(nil)
                    expectingKey = false
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if !containers.isEmpty { containers.removeLast() }
                    expectingKey = false
                case UInt8(ascii: ","):
                    expectingKey = containers.last.map { $0 != nil } ?? false
                case UInt8(ascii: ":"):
                    expectingKey = false
                case UInt8(ascii: "\""):
                    let start = position
                    guard let string = readString() else { return nil }
                    if expectingKey, var keys = containers.last ?? nil {
                        if !keys.insert(string).inserted { return (string, start) }
                        containers[containers.count - 1] = keys
                        expectingKey = false
                    }
                    continue
                default:
                    break
                }
                position += 1
            }
            return nil
        }

        /// Reads the string starting at `position` (a quote), decoding escapes so that `"k"` and
        /// `"\u006b"` count as the same key; leaves `position` after the closing quote.
        mutating func readString() -> String? {
            position += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flushRaw() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flushRaw()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { return nil }
                    let escape = bytes[position]
                    position += 1
                    flushRaw()
                    switch escape {
                    case UInt8(ascii: "u"):
                        guard position + 4 <= bytes.count,
                            let unit = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16)
                        else { return nil }
                        position += 4
                        // Surrogate halves stand for themselves here: equal keys stay equal.
                        scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    default: scalars.append(Unicode.Scalar(escape))
                    }
                default:
                    raw.append(byte)
                }
            }
            return nil
        }
    }
}
