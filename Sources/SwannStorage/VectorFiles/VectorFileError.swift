/// A vector file could not be read or written. Always names the file and, where it applies,
/// the byte offset and what was expected versus found.
public struct VectorFileError: Error, Hashable, CustomStringConvertible {
    /// What went wrong, as a closed set that callers can match on.
    public enum Code: String, Sendable, Hashable {
        case unknownFormat, cannotOpen, empty, truncated, sizeMismatch, inconsistentDimension
        case badDimension, badHeader, unsupportedType, fortranOrder, wrongScalarType, ioFailure, outOfRange
    }

    /// What went wrong, for programs to match on.
    public var code: Code
    /// The file's path as given.
    public var path: String
    /// Byte offset of the problem, when it has one.
    public var offset: Int64?
    /// What was expected (may be empty).
    public var expected: String
    /// What was found.
    public var found: String

    /// An error about the file at `path`, at `offset` where known, with what was expected and found.
    public init(_ code: Code, path: String, offset: Int64? = nil, expected: String = "", found: String) {
        self.code = code
        self.path = path
        self.offset = offset
        self.expected = expected
        self.found = found
    }

    /// A one-line description for logs and error messages.
    public var description: String {
        var text = "\(path)"
        if let offset { text += " at byte \(offset)" }
        text += ": \(code.summary)"
        if !expected.isEmpty { text += ": expected \(expected), found \(found)" } else { text += ": \(found)" }
        return text
    }
}

extension VectorFileError.Code {
    var summary: String {
        switch self {
        case .unknownFormat: "unknown vector file format"
        case .cannotOpen: "cannot open file"
        case .empty: "empty file"
        case .truncated: "file is truncated"
        case .sizeMismatch: "header and file size disagree"
        case .inconsistentDimension: "row dimension differs from the first row"
        case .badDimension: "invalid dimension"
        case .badHeader: "malformed header"
        case .unsupportedType: "unsupported element type"
        case .fortranOrder: "Fortran-ordered arrays are not supported"
        case .wrongScalarType: "wrong element type for this use"
        case .ioFailure: "I/O error"
        case .outOfRange: "value out of range"
        }
    }
}
