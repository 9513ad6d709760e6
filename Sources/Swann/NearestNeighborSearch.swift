@_spi(Engine) public import SwannCore

/// What `Index` and `LiveIndex` share: a search into a caller's buffer, and the conveniences
/// built on it, so code that only searches can take either.
public protocol NearestNeighborSearch: Sendable {
    /// The `k` nearest neighbours of `query`, written into `neighbors` (its contents replaced,
    /// its storage reused), nearest first; `parameters` nil means the index's defaults.
    /// - Returns: what the query cost.
    func search(
        _ query: UnsafeBufferPointer<Float>,
        k: Int,
        parameters: SearchParameters?,
        into neighbors: inout [Neighbor]
    ) throws(SearchError) -> SearchStatistics
}

extension NearestNeighborSearch {
    /// The `k` nearest neighbours of `query`.
    /// - Parameters:
    ///   - query: `dimension` finite components (converted to the index's element type).
    ///   - parameters: overrides of the index's default parameters for this call only.
    /// - Throws: `SearchError` for a bad query, k or parameters, or a corrupt posting list.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters? = nil) throws(SearchError) -> [Neighbor] {
        try searchWithStatistics(query, k: k, parameters: parameters).neighbors
    }

    /// Like `search(_:k:parameters:)`, with what the query cost.
    public func searchWithStatistics(_ query: [Float], k: Int, parameters: SearchParameters? = nil) throws(SearchError) -> SearchResult {
        var neighbors: [Neighbor] = []
        let statistics = try query.withUnsafeBufferPointer { buffer throws(SearchError) in
            try search(buffer, k: k, parameters: parameters, into: &neighbors)
        }
        return SearchResult(neighbors: neighbors, statistics: statistics)
    }
}
