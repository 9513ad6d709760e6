/// The k nearest neighbours of each of a batch of queries: `queryCount × k` ids and distances,
/// row-major. Missing entries (fewer than k candidates) have id −1 and distance +∞.
public struct NeighborTable: Sendable, Equatable {
    /// Number of queries (rows).
    public let queryCount: Int
    /// Neighbours per query (columns).
    public let k: Int
    /// `queryCount * k` ids, nearest first within each row.
    public var ids: [Int64]
    /// `queryCount * k` distances, or empty when the source carried no distances (`.ivecs`).
    public var distances: [Float]

    /// - Precondition: `ids.count == queryCount * k` and `distances` is empty or the same size.
    public init(queryCount: Int, k: Int, ids: [Int64], distances: [Float]) {
        precondition(ids.count == queryCount * k, "ids has \(ids.count) entries, expected \(queryCount * k)")
        precondition(distances.isEmpty || distances.count == ids.count, "distances/ids size mismatch")
        self.queryCount = queryCount
        self.k = k
        self.ids = ids
        self.distances = distances
    }

    /// The ids of query `query`, nearest first.
    public func ids(of query: Int) -> ArraySlice<Int64> {
        ids[query * k..<(query + 1) * k]
    }

    /// Recall@`k` of `results` against this table as ground truth: the mean fraction of each
    /// query's true top-`k` that appears among the first `k` results.
    /// - Precondition: both tables have the same number of queries and at least `k` columns.
    public func recall(of results: NeighborTable, at k: Int) -> Double {
        precondition(results.queryCount == queryCount, "query counts differ: \(results.queryCount) vs \(queryCount)")
        precondition(k <= self.k && k <= results.k, "k = \(k) exceeds a table's width")
        guard queryCount > 0 else { return 1 }
        var hits = 0
        for q in 0..<queryCount {
            let truth = Set(ids(of: q).prefix(k))
            hits += results.ids(of: q).prefix(k).reduce(0) { $0 + (truth.contains($1) ? 1 : 0) }
        }
        return Double(hits) / Double(queryCount * k)
    }
}
