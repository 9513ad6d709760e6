/// An index directory could not be written, opened or read. Names the file, and the byte offset
/// where it applies.
public struct IndexError: Error, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case missing, alreadyExists, unsupportedVersion, badMagic, truncated, checksumMismatch
        case inconsistent, ioFailure, invalidInput
    }

    public var code: Code
    /// The file concerned (inside the index directory), or the directory itself.
    public var path: String
    public var offset: Int64?
    public var detail: String

    public init(_ code: Code, path: String, offset: Int64? = nil, detail: String) {
        self.code = code
        self.path = path
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        var text = path
        if let offset { text += " at byte \(offset)" }
        return text + ": " + detail
    }
}
