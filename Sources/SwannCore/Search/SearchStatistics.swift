/// What one query cost (SPTAG's `SearchStats`, usearch's per-call counters).
public struct SearchStatistics: Sendable, Hashable, Codable {
    /// Posting lists read.
    public var postingsRead = 0
    /// Bytes read from the posting file.
    public var bytesRead = 0
    /// Distances computed (centroids and posting entries).
    public var distancesComputed = 0
    /// Of those, the distances to centroids (the graph walk and the exact re-rank of its beam).
    public var centroidDistances = 0
    /// Seconds in the centroid graph search.
    public var centroidSeconds = 0.0
    /// Seconds reading posting lists.
    public var ioSeconds = 0.0
    /// Seconds computing distances over postings.
    public var scanSeconds = 0.0

    /// The defaults (docs/PARAMETERS.md).
    public init() {}

    /// Adds another query's counters (for batch totals).
    public mutating func add(_ other: SearchStatistics) {
        postingsRead += other.postingsRead
        bytesRead += other.bytesRead
        distancesComputed += other.distancesComputed
        centroidDistances += other.centroidDistances
        centroidSeconds += other.centroidSeconds
        ioSeconds += other.ioSeconds
        scanSeconds += other.scanSeconds
    }
}
