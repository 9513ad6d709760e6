/// Chooses SPANN's centroids ("heads") by hierarchical balanced clustering.
///
/// The rows are split recursively with `BalancedKMeans` until each leaf should hold about
/// `1 / centroidRatio` rows; each leaf contributes one head: its *medoid*, the real row nearest to
/// the leaf's mean. Heads are real data vectors rather than means because the RNG rule of
/// posting assignment measures distances between heads and data: with means, it rejected almost
/// every replica (1.17 copies per vector) and recall stalled at 0.90 on minilm-100k (DESIGN.md),
/// while real rows as heads give ~6 copies in diverse directions. Heads are also searched as
/// ordinary members of their own posting lists.
///
/// Leaves are shared out in proportion to cluster sizes, so the number of heads comes out within
/// a few percent of `centroidRatio × count`.
public enum HeadSelection {
    /// How centroids are chosen.
    public struct Configuration: Sendable, Hashable, Codable {
        /// Fraction of the rows that become heads (SPTAG: 0.12–0.2).
        public var centroidRatio: Double = 0.16
        /// The balanced k-means run at each level.
        public var kMeans = BalancedKMeans.Configuration()
        /// Seed of every random choice (builds are deterministic).
        public var seed: UInt64 = 1
        /// The defaults (docs/PARAMETERS.md).
        public init() {}
    }

    /// Row numbers of the chosen heads, ascending.
    /// - Precondition: `data.elementType == .float32`, `data.count >= 1`.
    /// - Parameter progress: called with the number of heads chosen so far.
    package static func selectHeads(
        in data: VectorMatrix,
        configuration: Configuration,
        threads: Int,
        progress: ((Int) -> Void)? = nil
    ) -> [Int] {
        let kMeans = BalancedKMeans(data: data, configuration: configuration.kMeans, threads: threads)
        var rng = SplitMix64(seed: configuration.seed)
        let target = max(1, Int((Double(data.count) * configuration.centroidRatio).rounded()))
        var heads: [Int] = []
        heads.reserveCapacity(target)
        var pending: [(points: [Int32], leaves: Int)] = [(Array(0..<Int32(data.count)), target)]
        while let (points, leaves) = pending.popLast() {
            progress?(heads.count)
            if leaves <= 1 || points.count <= 1 {
                heads.append(medoid(of: points, in: data))
                continue
            }
            if leaves >= points.count {
                heads.append(contentsOf: points.map(Int.init))
                continue
            }
            let k = min(configuration.kMeans.branching, leaves)
            let assignment = kMeans.cluster(points, k: k, rng: &rng)
            var children = [[Int32]](repeating: [], count: k)
            for (i, point) in points.enumerated() { children[Int(assignment[i])].append(point) }
            children.removeAll { $0.isEmpty }
            if children.count == 1 {  // could not split (duplicates): take rows evenly
                let step = max(1, points.count / leaves)
                heads.append(contentsOf: stride(from: 0, to: points.count, by: step).prefix(leaves).map { Int(points[$0]) })
                continue
            }
            for (child, share) in zip(children, shares(of: leaves, by: children.map(\.count))) {
                pending.append((child, share))
            }
        }
        return Array(Set(heads)).sorted()
    }

    /// Splits `total` leaves in proportion to `sizes` (largest remainder), at least one each.
    static func shares(of total: Int, by sizes: [Int]) -> [Int] {
        let sum = Double(sizes.reduce(0, +))
        let exact = sizes.map { Double(total) * Double($0) / sum }
        var result = exact.map { max(1, Int($0)) }
        var remaining = total - result.reduce(0, +)
        let byRemainder = exact.indices.sorted { exact[$0] - exact[$0].rounded(.down) > exact[$1] - exact[$1].rounded(.down) }
        var i = 0
        while remaining > 0, !byRemainder.isEmpty {
            result[byRemainder[i % byRemainder.count]] += 1
            remaining -= 1
            i += 1
        }
        // The minimum of one leaf per child can overshoot: take leaves back from the largest shares.
        while remaining < 0, let largest = result.indices.max(by: { result[$0] < result[$1] }), result[largest] > 1 {
            result[largest] -= 1
            remaining += 1
        }
        return result
    }

    /// The point nearest to the mean of `points`.
    static func medoid(of points: [Int32], in data: VectorMatrix) -> Int {
        let d = data.dimension
        guard points.count > 2 else { return Int(points[0]) }
        var mean = [Float](repeating: 0, count: d)
        for point in points {
            let row = data.uncheckedRow(Int(point)).assumingMemoryBound(to: Float.self)
            for j in 0..<d { mean[j] += row[j] }
        }
        let scale = 1 / Float(points.count)
        for j in 0..<d { mean[j] *= scale }
        return mean.withUnsafeBytes { m in
            var best = Int(points[0])
            var bestDistance = Float.infinity
            for point in points {
                let dist = L2Float32.distance(data.uncheckedRow(Int(point)), m.baseAddress!, dimension: d)
                if dist < bestDistance { (best, bestDistance) = (Int(point), dist) }
            }
            return best
        }
    }
}
