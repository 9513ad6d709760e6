@_spi(Engine) import SwannCore

extension Index {
    /// Runs a few searches through every layer (centroid graph, posting reads, checksums, scan)
    /// so the first user query does not pay for cold code and the server can report ready only
    /// once the index demonstrably answers.
    /// - Parameter queries: how many searches to run (each uses a centroid as its query).
    /// - Throws: `SearchError` when the index cannot answer, e.g. a corrupt posting list.
    public func warmUp(queries: Int = 8) throws(SearchError) {
        let row = [Float](repeating: 0, count: dimension)
        for q in 0..<min(queries, centroids.count) {
            var query = row
            ElementConversion.widen(centroids.row(q), elementType: centroids.elementType, count: dimension, into: &query)
            _ = try search(query, k: min(10, count))
        }
    }
}
