/// An index directory could not be written, opened or read. Names the file, and the byte offset
/// where it applies.
public struct IndexError: Error, Hashable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Code: String, Sendable, Hashable {
        case missing, alreadyExists, unsupportedVersion, badMagic, truncated, checksumMismatch
        case inconsistent, ioFailure, invalidInput
    }

    /// What went wrong, for programs to match on.
    public var code: Code
    /// The file concerned (inside the index directory), or the directory itself.
    public var path: String
    /// Where in the file, when the problem has a position.
    public var offset: Int64?
    /// What is wrong, for people.
    public var detail: String

    /// An error about the file at `path`, at `offset` where known.
    public init(_ code: Code, path: String, offset: Int64? = nil, detail: String) {
        self.code = code
        self.path = path
        self.offset = offset
        self.detail = detail
    }

    /// A one-line description for logs and error messages.
    public var description: String {
        var text = path
        if let offset { text += " at byte \(offset)" }
        return text + ": " + detail
    }
}
