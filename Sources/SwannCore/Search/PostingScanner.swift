/// Exact distances of one query against posting lists (faiss's `InvertedListScanner`), built once
/// per query and specialised for one kernel.
///
/// Replicas make the same vector appear in several lists; `seen` skips every id after its first
/// occurrence in a query, so each vector costs one distance however many lists hold it.
@_spi(Engine) public struct PostingScanner<Kernel: DistanceKernel> {
    /// The query in the postings' stored type.
    public let query: UnsafeRawPointer
    /// Components per row.
    public let dimension: Int
    /// Bytes per stored row.
    public let rowBytes: Int
    /// Ids at or above this mark a corrupt list.
    public let vectorCount: Int

    /// A scanner for `query` (a row of the postings' element type).
    @inlinable
    public init(query: UnsafeRawPointer, dimension: Int, rowBytes: Int, vectorCount: Int) {
        self.query = query
        self.dimension = dimension
        self.rowBytes = rowBytes
        self.vectorCount = vectorCount
    }

    /// Scans `count` entries (`ids[i]` with its row at `vectors + i × rowBytes`) into `results`.
    /// - Parameter excluded: a bitset of ids to skip (deleted or replaced by writes), or nil.
    /// - Returns: the number of distances computed, or nil if an id is ≥ `vectorCount`
    ///   (a corrupt list: the caller reports it instead of answering).
    @inlinable
    public func scan(
        ids: UnsafePointer<UInt32>,
        vectors: UnsafeRawPointer,
        count: Int,
        excluded: UnsafePointer<UInt64>? = nil,
        seen: inout SeenSet,
        results: inout TopK
    ) -> Int? {
        var computed = 0
        for i in 0..<count {
            let id = Int(ids[i])
            guard id < vectorCount else { return nil }
            if let excluded, excluded[id &>> 6] & (1 &<< UInt64(id & 63)) != 0 { continue }
            guard seen.insert(id) else { continue }
            let d = Kernel.distance(query, vectors + i &* rowBytes, dimension: dimension)
            computed &+= 1
            if d <= results.threshold { results.insert(d, id: Int64(id)) }
        }
        return computed
    }
}

/// Which posting lists a query reads (SPANN's query-aware dynamic pruning).
@_spi(Engine) public enum ListSelection {
    /// A distance below this share of the farthest candidate's is treated as 0 by the ratio test.
    public static let negligibleShare: Float = 1e-3

    /// Which lists to read: the nearest centroid's always, then others in ascending distance
    /// while within `maxDistanceRatio ×` the nearest distance, at most `maxPostings`; written
    /// into `lists` (its contents replaced, its storage reused).
    ///
    /// `distanceOffset` is added before the ratio test so that distances are non-negative
    /// (1 for inner product on unit vectors, making it cosine distance). When the nearest
    /// distance is negligible (the query is a centroid), the next distance that is not is the
    /// basis: negligible is below `negligibleShare` of the farthest candidate's distance, since
    /// a query equal to a centroid is at 1 − ⟨c, c⟩ ≈ 1e-7 from it in cosine distance, not 0, and
    /// a basis of rounding error would read that centroid's list alone.
    public static func select(
        _ candidates: [(node: Int, distance: Float)],
        maxPostings: Int,
        maxDistanceRatio: Float?,
        distanceOffset: Float,
        into lists: inout [Int]
    ) {
        lists.removeAll(keepingCapacity: true)
        guard let first = candidates.first else { return }
        var limit = Float.infinity
        if let ratio = maxDistanceRatio {
            let negligible = max(0, candidates[candidates.count - 1].distance + distanceOffset) * negligibleShare
            let basis = candidates.lazy.map { $0.distance + distanceOffset }.first { $0 > negligible } ?? 0
            limit = basis * ratio
        }
        lists.append(first.node)
        for candidate in candidates.dropFirst() {
            guard lists.count < maxPostings, candidate.distance + distanceOffset <= limit else { break }
            lists.append(candidate.node)
        }
    }

    /// `select(_:maxPostings:maxDistanceRatio:distanceOffset:into:)` into a new array.
    public static func select(
        _ candidates: [(node: Int, distance: Float)],
        maxPostings: Int,
        maxDistanceRatio: Float?,
        distanceOffset: Float
    ) -> [Int] {
        var lists: [Int] = []
        select(candidates, maxPostings: maxPostings, maxDistanceRatio: maxDistanceRatio, distanceOffset: distanceOffset, into: &lists)
        return lists
    }
}
