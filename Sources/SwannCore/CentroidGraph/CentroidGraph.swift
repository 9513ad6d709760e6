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
public struct CentroidGraph: Sendable, Equatable {
    /// Maximum out-degree (HNSW's `M`, Vamana's `R`).
    public let degree: Int
    /// Number of nodes.
    public let count: Int
    /// Where every search starts.
    public let entryPoint: Int
    /// `count × degree` neighbour slots; `UInt32.max` marks an empty slot.
    public let neighbors: [UInt32]

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
public struct GraphError: Error, Hashable, CustomStringConvertible {
    public var detail: String
    public var description: String { "invalid centroid graph: \(detail)" }
}

/// Reusable memory for graph searches; one per thread (never shared concurrently).
public struct GraphSearchScratch: Sendable {
    @usableFromInline var visited: VisitedSet
    @usableFromInline var beamDistances: [Float] = []
    @usableFromInline var beamNodes: [Int32] = []
    @usableFromInline var beamExpanded: [Bool] = []

    public init(nodeCount: Int) {
        visited = VisitedSet(capacity: nodeCount)
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
        _ query: UnsafeRawPointer, centroids: VectorMatrix, beamWidth: Int, kernel: Kernel.Type,
        scratch: inout GraphSearchScratch, distanceCount: inout Int
    ) -> [(node: Int, distance: Float)] {
        neighbors.withUnsafeBufferPointer { slots in
            Self.search(
                query, neighbors: slots, degree: degree, entryPoint: entryPoint, centroids: centroids, beamWidth: beamWidth,
                kernel: Kernel.self, scratch: &scratch, distanceCount: &distanceCount)
        }
    }

    /// The beam search over raw adjacency (`degree` slots per node), shared with the builder.
    @inlinable
    static func search<Kernel: DistanceKernel>(
        _ query: UnsafeRawPointer, neighbors: UnsafeBufferPointer<UInt32>, degree: Int, entryPoint: Int,
        centroids: VectorMatrix, beamWidth: Int, kernel: Kernel.Type, scratch: inout GraphSearchScratch, distanceCount: inout Int
    ) -> [(node: Int, distance: Float)] {
        let width = max(1, beamWidth)
        let dimension = centroids.dimension
        scratch.visited.removeAll()
        scratch.beamDistances.removeAll(keepingCapacity: true)
        scratch.beamNodes.removeAll(keepingCapacity: true)
        scratch.beamExpanded.removeAll(keepingCapacity: true)
        _ = scratch.visited.insert(entryPoint)
        let d0 = Kernel.distance(query, centroids.uncheckedRow(entryPoint), dimension: dimension)
        distanceCount &+= 1
        scratch.beamDistances.append(d0)
        scratch.beamNodes.append(Int32(entryPoint))
        scratch.beamExpanded.append(false)
        // The beam is kept sorted by distance; `cursor` is the first unexpanded entry.
        var cursor = 0
        while cursor < scratch.beamNodes.count {
            scratch.beamExpanded[cursor] = true
            let node = Int(scratch.beamNodes[cursor])
            let base = node &* degree
            for slot in 0..<degree {
                let neighbor = neighbors[base &+ slot]
                if neighbor == Self.emptySlot { break }
                let n = Int(neighbor)
                guard scratch.visited.insert(n) else { continue }
                let d = Kernel.distance(query, centroids.uncheckedRow(n), dimension: dimension)
                distanceCount &+= 1
                if scratch.beamNodes.count >= width, d >= scratch.beamDistances[scratch.beamDistances.count - 1] { continue }
                // Insert in order (the beam is small: a linear shift beats a heap here).
                var position = scratch.beamDistances.count
                while position > 0, scratch.beamDistances[position - 1] > d { position -= 1 }
                scratch.beamDistances.insert(d, at: position)
                scratch.beamNodes.insert(Int32(n), at: position)
                scratch.beamExpanded.insert(false, at: position)
                if scratch.beamNodes.count > width {
                    scratch.beamDistances.removeLast()
                    scratch.beamNodes.removeLast()
                    scratch.beamExpanded.removeLast()
                }
                if position < cursor { cursor = position }
            }
            while cursor < scratch.beamNodes.count, scratch.beamExpanded[cursor] { cursor += 1 }
        }
        return (0..<scratch.beamNodes.count).map { (Int(scratch.beamNodes[$0]), scratch.beamDistances[$0]) }
    }
}
