/// A navigable proximity graph over the centroids, searched greedily with a candidate budget.
///
/// Built like DiskANN's Vamana (Subramanya et al., NeurIPS 2019): points are inserted in a
/// seeded random order; each is connected to the result of a beam search over the graph so far,
/// pruned by the robust-prune (α-RNG) rule, and back edges are added, re-pruning any node that
/// exceeds `degree`. The α > 1 rule keeps some long edges, which makes the graph navigable from
/// one entry point (the centroid nearest the mean). This is SPANN's in-memory head index (SPTAG
/// uses a BKT/RNG graph for the same purpose).
///
/// Storage is one flat `[UInt32]` of `count × degree` neighbour slots, `UInt32.max` = empty.
@_spi(Engine) public struct CentroidGraph: Sendable, Equatable {
    /// Maximum out-degree (HNSW's `M`, Vamana's `R`).
    public let degree: Int
    /// Number of nodes.
    public let count: Int
    /// Where every search starts.
    public let entryPoint: Int
    /// `count × degree` neighbour slots; `UInt32.max` marks an empty slot.
    public let neighbors: [UInt32]

    /// Marks an empty neighbour slot.
    public static let emptySlot = UInt32.max

    /// Wraps existing adjacency (as read from disk).
    /// - Throws: `GraphError` when a size is inconsistent or a neighbour id is out of range.
    public init(degree: Int, count: Int, entryPoint: Int, neighbors: [UInt32]) throws(GraphError) {
        guard degree >= 1, count >= 1, neighbors.count == degree * count else {
            throw GraphError(detail: "adjacency of \(neighbors.count) slots does not match \(count) nodes × degree \(degree)")
        }
        guard entryPoint >= 0, entryPoint < count else {
            throw GraphError(detail: "entry point \(entryPoint) outside 0..<\(count)")
        }
        if let bad = neighbors.firstIndex(where: { $0 != Self.emptySlot && Int($0) >= count }) {
            throw GraphError(detail: "node \(bad / degree) has neighbour \(neighbors[bad]) outside 0..<\(count)")
        }
        self.degree = degree
        self.count = count
        self.entryPoint = entryPoint
        self.neighbors = neighbors
    }

    init(unchecked degree: Int, count: Int, entryPoint: Int, neighbors: [UInt32]) {
        self.degree = degree
        self.count = count
        self.entryPoint = entryPoint
        self.neighbors = neighbors
    }

    /// The neighbours of `node` (without empty slots).
    public func neighbors(of node: Int) -> [Int] {
        neighbors[node * degree..<(node + 1) * degree].prefix { $0 != Self.emptySlot }.map(Int.init)
    }

    /// Mean out-degree.
    public var averageDegree: Double {
        Double(neighbors.lazy.filter { $0 != Self.emptySlot }.count) / Double(count)
    }
}

/// The centroid graph's data is inconsistent.
@_spi(Engine) public struct GraphError: Error, Hashable, CustomStringConvertible {
    /// What is inconsistent.
    public var detail: String
    /// The error as one line.
    public var description: String { "invalid centroid graph: \(detail)" }
}

/// Reusable memory for graph searches; one per thread (never shared concurrently).
@_spi(Engine) public struct GraphSearchScratch: Sendable {
    @usableFromInline var visited: VisitedSet
    /// The beam, sorted by distance; `node < 0` marks an expanded entry (`~node` is the node).
    @usableFromInline var beam: [BeamEntry] = []
    /// The unvisited neighbours of the node being expanded.
    @usableFromInline var pending: [Int32] = []

    /// Scratch for searches over a graph of `nodeCount` nodes.
    public init(nodeCount: Int) {
        visited = VisitedSet(capacity: nodeCount)
    }
}

@usableFromInline
struct BeamEntry: Sendable {
    @usableFromInline var distance: Float
    @usableFromInline var node: Int32
    @usableFromInline init(distance: Float, node: Int32) {
        self.distance = distance
        self.node = node
    }
}

extension CentroidGraph {
    /// Greedy beam search: the `beamWidth` nearest nodes found to `query`, nearest first.
    ///
    /// - Parameters:
    ///   - query: a row of the centroids' element type.
    ///   - centroids: the node vectors (`count` rows).
    ///   - beamWidth: the candidate budget (`searchCandidates`, HNSW's `ef`, Vamana's `L`).
    ///   - distanceCount: incremented by the number of distances computed.
    /// - Returns: up to `beamWidth` (node, distance) pairs, ascending by distance.
    @inlinable
    public func search<Kernel: DistanceKernel>(
        _ query: UnsafeRawPointer,
        centroids: VectorMatrix,
        beamWidth: Int,
        kernel: Kernel.Type,
        scratch: inout GraphSearchScratch,
        distanceCount: inout Int
    ) -> [(node: Int, distance: Float)] {
        search(
            KernelNodeDistance(query: query, rows: centroids, kernel: Kernel.self),
            beamWidth: beamWidth,
            scratch: &scratch,
            distanceCount: &distanceCount
        )
    }

    /// Greedy beam search measuring with `measure` (exact or quantised rows).
    @inlinable
    public func search<Measure: NodeDistance>(
        _ measure: Measure,
        beamWidth: Int,
        scratch: inout GraphSearchScratch,
        distanceCount: inout Int
    ) -> [(node: Int, distance: Float)] {
        var candidates: [(node: Int, distance: Float)] = []
        search(measure, beamWidth: beamWidth, scratch: &scratch, distanceCount: &distanceCount, into: &candidates)
        return candidates
    }

    /// Greedy beam search measuring with `measure`, writing the candidates into `candidates`
    /// (its contents replaced, its storage reused: the query path allocates nothing here).
    @inlinable
    public func search<Measure: NodeDistance>(
        _ measure: Measure,
        beamWidth: Int,
        scratch: inout GraphSearchScratch,
        distanceCount: inout Int,
        into candidates: inout [(node: Int, distance: Float)]
    ) {
        neighbors.withUnsafeBufferPointer { slots in
            Self.search(
                measure,
                neighbors: slots,
                degree: degree,
                entryPoint: entryPoint,
                beamWidth: beamWidth,
                scratch: &scratch,
                distanceCount: &distanceCount,
                into: &candidates
            )
        }
    }

    /// The beam search over raw adjacency (`degree` slots per node), shared with the builder;
    /// the candidates go into `candidates`.
    ///
    /// The search is bound by memory latency (a centroid row is 1.5 KiB at 384 float32
    /// dimensions and the rows are visited in graph order), so, as hnswlib does, the rows of a
    /// node's unvisited neighbours are prefetched before any of their distances is computed.
    @inlinable
    static func search<Measure: NodeDistance>(
        _ measure: Measure,
        neighbors: UnsafeBufferPointer<UInt32>,
        degree: Int,
        entryPoint: Int,
        beamWidth: Int,
        scratch: inout GraphSearchScratch,
        distanceCount: inout Int,
        into candidates: inout [(node: Int, distance: Float)]
    ) {
        let width = max(1, beamWidth)
        scratch.visited.removeAll()
        if scratch.beam.count < width &+ 1 {
            scratch.beam = [BeamEntry](repeating: BeamEntry(distance: 0, node: 0), count: width &+ 1)
        }
        if scratch.pending.count < degree { scratch.pending = [Int32](repeating: 0, count: degree) }
        _ = scratch.visited.insert(entryPoint)
        var computed = 1
        var size = 1
        // Moved out (not copied) so that marking a node never copies the tag array.
        var visited = scratch.visited
        scratch.visited = VisitedSet(capacity: 0)
        defer { scratch.visited = visited }
        scratch.beam.withUnsafeMutableBufferPointer { beam in
            scratch.pending.withUnsafeMutableBufferPointer { pending in
                beam[0] = BeamEntry(distance: measure.distance(to: entryPoint), node: Int32(entryPoint))
                // `cursor` is the first unexpanded entry of the sorted beam.
                var cursor = 0
                while cursor < size {
                    let node = Int(beam[cursor].node)
                    beam[cursor].node = ~beam[cursor].node
                    let base = node &* degree
                    var pendingCount = 0
                    for slot in 0..<degree {
                        let neighbor = neighbors[base &+ slot]
                        if neighbor == Self.emptySlot { break }
                        guard visited.insert(Int(neighbor)) else { continue }
                        pending[pendingCount] = Int32(bitPattern: neighbor)
                        pendingCount &+= 1
                        measure.prefetchHead(of: Int(neighbor))
                    }
                    for j in 0..<pendingCount {
                        if j &+ 1 < pendingCount { measure.prefetchRest(of: Int(pending[j &+ 1])) }
                        let n = pending[j]
                        let d = measure.distance(to: Int(n))
                        computed &+= 1
                        if size >= width, d >= beam[size &- 1].distance { continue }
                        // Insert in order (the beam is small: a linear shift beats a heap here).
                        var position = size
                        if size == width { position &-= 1 }
                        while position > 0, beam[position &- 1].distance > d {
                            beam[position] = beam[position &- 1]
                            position &-= 1
                        }
                        beam[position] = BeamEntry(distance: d, node: n)
                        if size < width { size &+= 1 }
                        if position < cursor { cursor = position }
                    }
                    while cursor < size, beam[cursor].node < 0 { cursor &+= 1 }
                }
            }
        }
        distanceCount &+= computed
        candidates.removeAll(keepingCapacity: true)
        scratch.beam.withUnsafeBufferPointer { beam in
            for i in 0..<size {
                let node = beam[i].node
                candidates.append((Int(node < 0 ? ~node : node), beam[i].distance))
            }
        }
    }
}
