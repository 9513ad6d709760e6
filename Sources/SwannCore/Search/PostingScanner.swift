/// Exact distances of one query against one posting list (faiss's `InvertedListScanner`).
///
/// Replicas make the same vector appear in several lists; `seen` skips every id after its first
/// occurrence in a query, so each vector costs one distance however many lists hold it.
public enum PostingScanner {
    /// Scans `count` entries (`ids[i]` with its row at `vectors + i × rowBytes`) into `results`.
    /// - Returns: the number of distances computed, or nil if an id is ≥ `vectorCount`
    ///   (a corrupt list: the caller reports it instead of answering).
    @inlinable
    public static func scan<Kernel: DistanceKernel>(
        query: UnsafeRawPointer,
        ids: UnsafePointer<UInt32>,
        vectors: UnsafeRawPointer,
        count: Int,
        rowBytes: Int,
        dimension: Int,
        vectorCount: Int,
        kernel: Kernel.Type,
        seen: inout SeenSet,
        results: inout TopK
    ) -> Int? {
        var computed = 0
        for i in 0..<count {
            let id = Int(ids[i])
            guard id < vectorCount else { return nil }
            guard seen.insert(id) else { continue }
            let d = Kernel.distance(query, vectors + i &* rowBytes, dimension: dimension)
            computed &+= 1
            if d <= results.threshold { results.insert(d, id: Int64(id)) }
        }
        return computed
    }

    /// Which lists to read: the nearest centroid's always, then others in ascending distance
    /// while within `maxDistanceRatio ×` the nearest distance (query-aware dynamic pruning),
    /// at most `maxPostings`.
    ///
    /// `distanceOffset` is added before the ratio test so that distances are non-negative
    /// (1 for inner product on unit vectors, making it cosine distance). When the nearest
    /// distance is 0 (the query is a centroid), the next positive distance is the basis.
    public static func selectLists(
        _ candidates: [(node: Int, distance: Float)],
        maxPostings: Int,
        maxDistanceRatio: Float?,
        distanceOffset: Float
    ) -> [Int] {
        guard let first = candidates.first else { return [] }
        var limit = Float.infinity
        if let ratio = maxDistanceRatio {
            let basis = candidates.lazy.map { $0.distance + distanceOffset }.first { $0 > 0 } ?? 0
            limit = basis * ratio
        }
        var lists = [first.node]
        for candidate in candidates.dropFirst() {
            guard lists.count < maxPostings, candidate.distance + distanceOffset <= limit else { break }
            lists.append(candidate.node)
        }
        return lists
    }
}
