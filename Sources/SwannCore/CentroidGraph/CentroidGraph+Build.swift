/// How the centroid graph is built.
public struct GraphConfiguration: Sendable, Hashable, Codable {
    /// Maximum out-degree (`R` in Vamana, `M` in HNSW). Range 8…128; 32 by default.
    public var degree: Int = 32
    /// Beam width used while inserting (`L` in Vamana, `ef_construction` in HNSW). ≥ degree.
    public var buildBeamWidth: Int = 96
    /// Robust-prune factor α ≥ 1: larger keeps more long edges (better navigation, more memory).
    public var alpha: Float = 1.2
    /// Seed for the insertion order.
    public var seed: UInt64 = 1

    /// The defaults (docs/PARAMETERS.md).
    public init() {}

    /// Checks every field's range.
    public func validate() throws(ConfigurationError) {
        guard (2...256).contains(degree) else { throw ConfigurationError("graph degree \(degree) is outside 2...256") }
        guard buildBeamWidth >= degree else { throw ConfigurationError("graph build beam \(buildBeamWidth) must be ≥ degree \(degree)") }
        guard alpha >= 1, alpha <= 4 else { throw ConfigurationError("graph alpha \(alpha) is outside 1...4") }
    }
}

/// A configuration value is out of range; the message names the field and the range.
public struct ConfigurationError: Error, Hashable, CustomStringConvertible {
    /// What went wrong, for people.
    public var message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    /// A one-line description for logs and error messages.
    public var description: String { message }
}

extension CentroidGraph {
    /// Builds the graph over `centroids` with `Kernel` (a squared-L2 kernel of their element type).
    ///
    /// Insertion runs in batches (after ParlayANN's prefix doubling): the points of a batch are
    /// searched and pruned in parallel against the graph as it stood before the batch, then
    /// back edges are grouped by target and each target is updated by one thread.
    /// - Complexity: about `count × (buildBeamWidth × degree + degree²)` distance computations.
    package static func build<Kernel: DistanceKernel>(
        centroids: VectorMatrix,
        configuration: GraphConfiguration,
        kernel: Kernel.Type,
        threads: Int = Parallel.coreCount,
        progress: ((Int) -> Void)? = nil
    ) -> CentroidGraph {
        let n = centroids.count
        let degree = configuration.degree
        let entry = medoid(of: centroids)
        // Nodes may exceed `degree` by a slack of 30% before back edges force a re-prune
        // (DiskANN's slack factor): re-pruning is the most expensive step of the build.
        let capacity = degree + max(1, degree * 3 / 10)
        let builder = GraphBuilder<Kernel>(centroids: centroids, degree: capacity, alpha: configuration.alpha)
        defer { builder.deallocate() }
        var order = Array(0..<n).filter { $0 != entry }
        var rng = SplitMix64(seed: configuration.seed)
        order.shuffle(using: &rng)
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(order.count, start + max(1, min(512, start / 8)))])
            start += batch.count
            builder.insert(batch, entryPoint: entry, beamWidth: configuration.buildBeamWidth, threads: threads)
            progress?(start + 1)
        }
        return builder.finished(degree: degree, entryPoint: entry, threads: threads)
    }

    /// The row nearest to the mean of all rows (squared L2 on widened values).
    static func medoid(of matrix: VectorMatrix) -> Int {
        let d = matrix.dimension
        var mean = [Double](repeating: 0, count: d)
        var row = [Float](repeating: 0, count: d)
        for i in 0..<matrix.count {
            row.withUnsafeMutableBufferPointer {
                ElementConversion.widen(matrix.row(i), elementType: matrix.elementType, count: d, into: $0.baseAddress!)
            }
            for j in 0..<d { mean[j] += Double(row[j]) }
        }
        for j in 0..<d { mean[j] /= Double(matrix.count) }
        var best = 0
        var bestDistance = Double.infinity
        for i in 0..<matrix.count {
            row.withUnsafeMutableBufferPointer {
                ElementConversion.widen(matrix.row(i), elementType: matrix.elementType, count: d, into: $0.baseAddress!)
            }
            var s = 0.0
            for j in 0..<d { s += (Double(row[j]) - mean[j]) * (Double(row[j]) - mean[j]) }
            if s < bestDistance { (best, bestDistance) = (i, s) }
        }
        return best
    }
}

/// Adjacency under construction: flat `count × degree` slots in unsafe memory, so threads can
/// update *different* nodes concurrently. Every phase of `insert` writes each node from at most
/// one thread.
final class GraphBuilder<Kernel: DistanceKernel>: @unchecked Sendable {
    let centroids: VectorMatrix
    let degree: Int
    let alpha: Float
    let neighbors: UnsafeMutableBufferPointer<UInt32>
    let degrees: UnsafeMutableBufferPointer<Int>

    init(centroids: VectorMatrix, degree: Int, alpha: Float) {
        self.centroids = centroids
        self.degree = degree
        self.alpha = alpha
        neighbors = .allocate(capacity: centroids.count * degree)
        neighbors.initialize(repeating: CentroidGraph.emptySlot)
        degrees = .allocate(capacity: centroids.count)
        degrees.initialize(repeating: 0)
    }

    func deallocate() {
        neighbors.deallocate()
        degrees.deallocate()
    }

    func distance(_ a: Int, _ b: Int) -> Float {
        Kernel.distance(centroids.uncheckedRow(a), centroids.uncheckedRow(b), dimension: centroids.dimension)
    }

    func list(of node: Int) -> [Int] {
        (0..<degrees[node]).map { Int(neighbors[node * degree + $0]) }
    }

    func setNeighbors(of node: Int, _ list: [Int]) {
        for slot in 0..<degree {
            neighbors[node * degree + slot] = slot < list.count ? UInt32(list[slot]) : CentroidGraph.emptySlot
        }
        degrees[node] = list.count
    }

    /// Inserts a batch: parallel search + prune, then parallel back-edge updates per target.
    func insert(_ batch: [Int], entryPoint: Int, beamWidth: Int, threads: Int) {
        let n = centroids.count
        var chosen = [[Int]](repeating: [], count: batch.count)
        chosen.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            Parallel.forEach(items: batch.count, threads: threads) { i in
                var scratch = GraphSearchScratch(nodeCount: n)
                var distanceCount = 0
                let node = batch[i]
                var candidates: [(node: Int, distance: Float)] = []
                CentroidGraph.search(
                    KernelNodeDistance(query: self.centroids.uncheckedRow(node), rows: self.centroids, kernel: Kernel.self),
                    neighbors: UnsafeBufferPointer(self.neighbors),
                    degree: self.degree,
                    entryPoint: entryPoint,
                    beamWidth: beamWidth,
                    scratch: &scratch,
                    distanceCount: &distanceCount,
                    into: &candidates
                )
                shared.value[i] = self.prune(node, candidates: candidates)
            }
        }
        var incoming: [Int: [Int]] = [:]
        for (i, node) in batch.enumerated() {
            setNeighbors(of: node, chosen[i])
            for target in chosen[i] { incoming[target, default: []].append(node) }
        }
        let targets = Array(incoming.keys).sorted()
        Parallel.forEach(items: targets.count, threads: threads) { t in
            let target = targets[t]
            var current = self.list(of: target)
            for source in incoming[target]! where !current.contains(source) { current.append(source) }
            if current.count <= self.degree {
                self.setNeighbors(of: target, current)
            } else {
                let pool = current.map { (node: $0, distance: self.distance(target, $0)) }.sorted { $0.distance < $1.distance }
                self.setNeighbors(of: target, self.prune(target, candidates: pool))
            }
        }
    }

    /// Removes the nodes marked `dead`: a live node that pointed to one is re-pruned over its
    /// other neighbours and the dead node's (FreshDiskANN's delete consolidation), so the
    /// graph stays navigable around the hole; dead nodes keep no edges, in or out.
    func remove(dead: [Bool], threads: Int) {
        let n = centroids.count
        var replacements = [[Int]?](repeating: nil, count: n)
        replacements.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            // Reads every node's list, writes only `replacements`: safe in parallel.
            Parallel.forEach(items: n, threads: threads) { node in
                guard !dead[node] else { return }
                let current = self.list(of: node)
                guard current.contains(where: { dead[$0] }) else { return }
                var pool = Set<Int>()
                for neighbor in current {
                    if dead[neighbor] {
                        for next in self.list(of: neighbor) where !dead[next] && next != node { pool.insert(next) }
                    } else {
                        pool.insert(neighbor)
                    }
                }
                let sorted = pool.map { (node: $0, distance: self.distance(node, $0)) }.sorted { ($0.distance, $0.node) < ($1.distance, $1.node) }
                shared.value[node] = self.prune(node, candidates: sorted)
            }
        }
        for node in 0..<n {
            if let list = replacements[node] {
                setNeighbors(of: node, list)
            } else if dead[node] {
                setNeighbors(of: node, [])
            }
        }
    }

    /// Prunes every node down to `target` slots and packs them.
    func finished(degree target: Int, entryPoint: Int, threads: Int) -> CentroidGraph {
        var packed = [UInt32](repeating: CentroidGraph.emptySlot, count: centroids.count * target)
        packed.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            Parallel.forEach(items: centroids.count, threads: threads) { node in
                var list = self.list(of: node)
                if list.count > target {
                    let pool = list.map { (node: $0, distance: self.distance(node, $0)) }.sorted { $0.distance < $1.distance }
                    list = Array(self.prune(node, candidates: pool, limit: target))
                }
                for (slot, neighbor) in list.enumerated() { shared.value[node * target + slot] = UInt32(neighbor) }
            }
        }
        return CentroidGraph(unchecked: target, count: centroids.count, entryPoint: entryPoint, neighbors: packed)
    }

    /// Robust prune (α-RNG): keep a candidate unless an already kept one is α× closer to it
    /// than the node is. `candidates` must be sorted by distance to `node`.
    func prune(_ node: Int, candidates: [(node: Int, distance: Float)], limit: Int? = nil) -> [Int] {
        let limit = limit ?? degree
        var kept: [Int] = []
        kept.reserveCapacity(limit)
        for candidate in candidates where candidate.node != node {
            var dominated = false
            for other in kept where alpha * distance(candidate.node, other) <= candidate.distance {
                dominated = true
                break
            }
            if !dominated {
                kept.append(candidate.node)
                if kept.count == limit { break }
            }
        }
        return kept
    }
}
