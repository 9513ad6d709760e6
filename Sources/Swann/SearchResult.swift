public import SwannCore

/// The answer to one query.
public struct SearchResult: Sendable, Hashable {
    /// Nearest first; ids are the user's ids when the index has an id map, else row numbers.
    public var neighbors: [Neighbor]
    public var statistics: SearchStatistics
}

/// A query could not be answered. Other queries are unaffected.
public struct SearchError: Error, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, Codable {
        case wrongDimension, nonFinite, zeroVector, invalidK, invalidParameters, indexCorrupt, ioFailure
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
