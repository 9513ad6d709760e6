/// k-means with a balance penalty, on float32 rows under squared L2.
///
/// Assignment cost is `‖x − cⱼ‖² + λ·sizeⱼ`, where `sizeⱼ` is cluster j's size in the previous
/// round and λ is re-derived every round from the data as
/// `balanceFactor × (mean distance to the nearest centre) / (n / k)`: a cluster of average size
/// pays one mean distance, so oversized clusters shed their boundary points to neighbours.
/// SPTAG's BKT k-means uses the same cost with a λ refined from cluster spreads
/// (`KmeansClustering`, `RefineLambda`); deriving it from the mean distance keeps the penalty
/// scale-free across nodes of the hierarchy.
public struct BalancedKMeans {
    /// Branching, iterations and the balance penalty of one k-means level.
    public struct Configuration: Sendable, Hashable, Codable {
        /// Clusters per split (SPTAG's `BKTKmeansK`).
        public var branching = 32
        /// Lloyd rounds on the training sample.
        public var iterations = 8
        /// Points used to train the centres; all points are assigned at the end.
        public var sampleSize = 16_384
        /// Strength of the balance penalty (0 = plain k-means). Above ~0.5 assignments start
        /// to oscillate between rounds and balance gets worse, not better.
        public var balanceFactor: Float = 0.25
        /// The defaults (docs/PARAMETERS.md).
        public init() {}
    }

    let data: VectorMatrix
    let configuration: Configuration
    let threads: Int

    /// - Precondition: `data.elementType == .float32`.
    package init(data: VectorMatrix, configuration: Configuration, threads: Int) {
        precondition(data.elementType == .float32, "balanced k-means runs on float32 rows")
        self.data = data
        self.configuration = configuration
        self.threads = threads
    }

    /// Splits `points` (row numbers of `data`) into at most `k` clusters.
    /// - Returns: for each point, its cluster in `0..<k`.
    package func cluster(_ points: [Int32], k: Int, rng: inout SplitMix64) -> [Int32] {
        let k = min(k, points.count)
        guard k > 1 else { return [Int32](repeating: 0, count: points.count) }
        let d = data.dimension
        var sample = points
        if sample.count > configuration.sampleSize {
            sample.shuffle(using: &rng)
            sample = Array(sample.prefix(configuration.sampleSize))
        }
        var centers = seedCenters(sample, k: k, rng: &rng)
        var sizes = [Int](repeating: 0, count: k)
        var lambda: Float = 0
        for _ in 0..<configuration.iterations {
            let (assignment, meanDistance) = assign(sample, centers: centers, k: k, sizes: sizes, lambda: lambda)
            // Recompute means; an empty cluster keeps its centre.
            var sums = [Double](repeating: 0, count: k * d)
            var counts = [Int](repeating: 0, count: k)
            for (i, point) in sample.enumerated() {
                let c = Int(assignment[i])
                counts[c] += 1
                let row = data.uncheckedRow(Int(point)).assumingMemoryBound(to: Float.self)
                for j in 0..<d { sums[c * d + j] += Double(row[j]) }
            }
            for c in 0..<k where counts[c] > 0 {
                for j in 0..<d { centers[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
            }
            // Damped: penalising the previous round's sizes alone makes clusters oscillate.
            sizes = sizes.allSatisfy({ $0 == 0 }) ? counts : zip(sizes, counts).map { ($0 + $1) / 2 }
            lambda = configuration.balanceFactor * meanDistance / (Float(sample.count) / Float(k))
        }
        // Final assignment of every point, with sizes scaled from the sample.
        let scale = Double(points.count) / Double(sample.count)
        let scaled = sizes.map { Int(Double($0) * scale) }
        let finalLambda = lambda / Float(scale)
        return assign(points, centers: centers, k: k, sizes: scaled, lambda: finalLambda).0
    }

    /// k-means++ seeding on the sample.
    func seedCenters(_ sample: [Int32], k: Int, rng: inout SplitMix64) -> [Float] {
        let d = data.dimension
        var centers = [Float](repeating: 0, count: k * d)
        var nearest = [Float](repeating: .infinity, count: sample.count)
        var chosen = Int(rng.next() % UInt64(sample.count))
        for c in 0..<k {
            let row = data.uncheckedRow(Int(sample[chosen]))
            centers.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: c * d * 4).copyMemory(from: row, byteCount: d * 4) }
            var total: Double = 0
            for (i, point) in sample.enumerated() {
                let dist = L2Float32.distance(data.uncheckedRow(Int(point)), row, dimension: d)
                nearest[i] = min(nearest[i], dist)
                total += Double(nearest[i])
            }
            guard total > 0 else { break }
            var target = Double(rng.nextUnitFloat()) * total
            chosen = sample.count - 1
            for i in 0..<sample.count {
                target -= Double(nearest[i])
                if target <= 0 {
                    chosen = i
                    break
                }
            }
        }
        return centers
    }

    /// Penalised nearest-centre assignment, in parallel over blocks of points.
    func assign(_ points: [Int32], centers: [Float], k: Int, sizes: [Int], lambda: Float) -> ([Int32], Float) {
        let d = data.dimension
        var assignment = [Int32](repeating: 0, count: points.count)
        let blockSize = 1024
        let blocks = (points.count + blockSize - 1) / blockSize
        var blockDistance = [Double](repeating: 0, count: blocks)
        let penalties = sizes.map { lambda * Float($0) }
        assignment.withUnsafeMutableBufferPointer { out in
            blockDistance.withUnsafeMutableBufferPointer { partial in
                centers.withUnsafeBytes { centerBytes in
                    let shared = UncheckedSendable((out, partial, centerBytes.baseAddress!))
                    Parallel.forEach(items: blocks, threads: threads) { block in
                        let (out, partial, centerBase) = shared.value
                        var sum: Double = 0
                        for i in block * blockSize..<min((block + 1) * blockSize, points.count) {
                            let row = data.uncheckedRow(Int(points[i]))
                            var best = 0
                            var bestCost = Float.infinity
                            var bestDistance: Float = 0
                            for c in 0..<k {
                                let dist = L2Float32.distance(row, centerBase + c * d * 4, dimension: d)
                                let cost = dist + penalties[c]
                                if cost < bestCost { (best, bestCost, bestDistance) = (c, cost, dist) }
                            }
                            out[i] = Int32(best)
                            sum += Double(bestDistance)
                        }
                        partial[block] = sum
                    }
                }
            }
        }
        let mean = Float(blockDistance.reduce(0, +) / Double(max(1, points.count)))
        return (assignment, mean)
    }
}
