@_spi(Engine) public import SwannCore

/// The answer to one query.
public struct SearchResult: Sendable, Hashable {
    /// Nearest first; ids are the user's ids when the index has an id map, else row numbers.
    public var neighbors: [Neighbor]
    /// What the search cost.
    public var statistics: SearchStatistics
}

/// A query could not be answered. Other queries are unaffected.
public struct SearchError: Error, Hashable, CustomStringConvertible {
    /// What was wrong; every code but `indexCorrupt` and `ioFailure` is the caller's mistake.
    public enum Code: String, Sendable, Hashable, Codable {
        case wrongDimension, nonFinite, zeroVector, invalidK, invalidParameters, indexCorrupt, ioFailure
        /// A finite query that the index cannot compute with: a component outside the range of
        /// its element type, or a norm whose distances would overflow float32.
        case outOfRange
    }

    /// What went wrong, for programs to match on.
    public var code: Code
    /// What went wrong, for people.
    public var message: String

    /// An error of kind `code` with a message for people.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A one-line description for logs and error messages.
    public var description: String { message }
}
