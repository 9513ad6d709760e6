public import SwannCore

/// What one query cost (SPTAG's `SearchStats`, usearch's per-call counters).
public struct SearchStatistics: Sendable, Hashable, Codable {
    /// Posting lists read.
    public var postingsRead = 0
    /// Bytes read from the posting file.
    public var bytesRead = 0
    /// Distances computed (centroids and posting entries).
    public var distancesComputed = 0
    /// Seconds in the centroid graph search.
    public var centroidSeconds = 0.0
    /// Seconds reading posting lists.
    public var ioSeconds = 0.0
    /// Seconds computing distances over postings.
    public var scanSeconds = 0.0

    public init() {}

    /// Adds another query's counters (for batch totals).
    public mutating func add(_ other: SearchStatistics) {
        postingsRead += other.postingsRead
        bytesRead += other.bytesRead
        distancesComputed += other.distancesComputed
        centroidSeconds += other.centroidSeconds
        ioSeconds += other.ioSeconds
        scanSeconds += other.scanSeconds
    }
}

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
