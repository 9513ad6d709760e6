/// Exact (brute-force) k-nearest-neighbour search: the ground truth every recall figure uses.
///
/// The base can arrive in chunks (`add(_:firstID:)`), so a file larger than memory is scanned
/// once, chunk by chunk. Work is tiled for cache reuse: a tile of queries runs against a block
/// of base rows small enough to stay in L2 before the next block is touched; tiles are spread
/// over the threads. Distances are computed directly (Σ(aᵢ−bᵢ)², not the ‖a‖²+‖b‖²−2a·b
/// expansion), so they are exact to float rounding and ties are broken by the smaller id.
///
/// When queries and base have different element types, both sides are widened to float32.
public final class ExactSearch {
    /// The queries, in the base's element type when the types agree, otherwise in float32.
    private let queries: VectorMatrix
    private let metric: Metric
    private let threads: Int
    private let heaps: UnsafeMutableBufferPointer<TopK>
    /// Neighbours per query.
    public let k: Int

    static let queriesPerTile = 16
    static let blockBytes = 192 * 1024

    /// Prepares a search of `queries` for their `k` nearest under `metric`.
    /// - Parameters:
    ///   - baseElementType: the element type the base chunks will have.
    ///   - threads: worker threads (defaults to every core).
    public init(queries: VectorMatrix, baseElementType: ElementType, k: Int, metric: Metric, threads: Int = Parallel.coreCount) {
        precondition(k >= 1, "k must be at least 1")
        self.queries = queries.elementType == baseElementType ? queries : (try! queries.converted(to: .float32))
        self.metric = metric
        self.threads = max(1, threads)
        self.k = k
        heaps = .allocate(capacity: queries.count)
        // One heap each: `initialize(repeating:)` would share one array buffer among all of them,
        // which every thread then copies on its first insert, the last one in place (a hand-over
        // through a reference count that ThreadSanitizer cannot see).
        for q in heaps.indices { (heaps.baseAddress! + q).initialize(to: TopK(k: k)) }
    }

    deinit {
        heaps.deinitialize()
        heaps.deallocate()
    }

    /// Scans `chunk`, whose row `i` has id `firstID + i`.
    /// - Precondition: `chunk.dimension` equals the queries' dimension.
    public func add(_ chunk: VectorMatrix, firstID: Int64) {
        precondition(chunk.dimension == queries.dimension, "dimension \(chunk.dimension) ≠ \(queries.dimension)")
        let base = chunk.elementType == queries.elementType ? chunk : (try! chunk.converted(to: .float32))
        Distance.dispatch(
            metric: metric,
            elementType: base.elementType,
            to: ChunkScan(queries: queries, base: base, firstID: firstID, heaps: heaps, threads: threads)
        )
    }

    /// The neighbours found so far, nearest first.
    public func result() -> NeighborTable {
        var ids = [Int64](repeating: -1, count: queries.count * k)
        var distances = [Float](repeating: .infinity, count: queries.count * k)
        for q in 0..<queries.count {
            for (j, neighbor) in heaps[q].sorted().enumerated() {
                ids[q * k + j] = neighbor.id
                distances[q * k + j] = neighbor.distance
            }
        }
        return NeighborTable(queryCount: queries.count, k: k, ids: ids, distances: distances)
    }

    /// Convenience: the exact `k` nearest of every query in an in-memory base.
    public static func nearest(
        queries: VectorMatrix,
        base: VectorMatrix,
        k: Int,
        metric: Metric,
        threads: Int = Parallel.coreCount
    ) -> NeighborTable {
        let search = ExactSearch(queries: queries, baseElementType: base.elementType, k: k, metric: metric, threads: threads)
        search.add(base, firstID: 0)
        return search.result()
    }
}

private struct ChunkScan: KernelConsumer {
    let queries: VectorMatrix
    let base: VectorMatrix
    let firstID: Int64
    let heaps: UnsafeMutableBufferPointer<TopK>
    let threads: Int

    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) {
        let tileCount = (queries.count + ExactSearch.queriesPerTile - 1) / ExactSearch.queriesPerTile
        let rowsPerBlock = max(1, ExactSearch.blockBytes / max(1, base.rowBytes))
        let dimension = base.dimension
        let heaps = UncheckedSendable(self.heaps)
        // Each tile owns its queries' heaps, so tiles write disjoint memory.
        Parallel.forEach(items: tileCount, threads: threads) { tile in
            let firstQuery = tile * ExactSearch.queriesPerTile
            let lastQuery = min(firstQuery + ExactSearch.queriesPerTile, queries.count)
            var blockStart = 0
            while blockStart < base.count {
                let blockEnd = min(blockStart + rowsPerBlock, base.count)
                for q in firstQuery..<lastQuery {
                    let query = queries.uncheckedRow(q)
                    // Move the heap out and back so its arrays stay uniquely referenced (no COW copy).
                    let slot = heaps.value.baseAddress! + q
                    var heap = slot.move()
                    for r in blockStart..<blockEnd {
                        let d = Kernel.distance(query, base.uncheckedRow(r), dimension: dimension)
                        if d <= heap.threshold { heap.insert(d, id: firstID &+ Int64(r)) }
                    }
                    slot.initialize(to: heap)
                }
                blockStart = blockEnd
            }
        }
    }
}
