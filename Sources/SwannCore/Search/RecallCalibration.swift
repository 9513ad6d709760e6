/// How recall@k grows with the number of posting lists read, measured by the build on a sample
/// of the index's own vectors against their exact neighbours: what turns a `targetRecall` into a
/// list budget (`maxPostings`).
///
/// The sample's queries are indexed vectors, each searched for without itself. Queries from
/// another distribution than the data (minilm-100k's questions against its passages) are
/// usually harder: they reach less than the table says at the same budget (docs/PARAMETERS.md).
public struct RecallCalibration: Sendable, Hashable, Codable {
    /// Recall measured at one list budget.
    public struct Point: Sendable, Hashable, Codable {
        /// Posting lists read per query.
        public var maxPostings: Int
        /// Mean recall@k of the sample at that budget.
        public var recall: Double

        /// A measured point.
        public init(maxPostings: Int, recall: Double) {
            self.maxPostings = maxPostings
            self.recall = recall
        }
    }

    /// Sampled vectors searched.
    public var sampleSize: Int
    /// The k of recall@k.
    public var k: Int
    /// Budgets ascending, each with its recall.
    public var points: [Point]

    /// A table of measured points (sorted by budget here).
    public init(sampleSize: Int, k: Int, points: [Point]) {
        self.sampleSize = sampleSize
        self.k = k
        self.points = points.sorted { $0.maxPostings < $1.maxPostings }
    }

    /// The list budgets a build measures, up to `centroids`: the steps a user would sweep, to
    /// 256 (4× the default; the build's cost grows with their sum).
    public static func budgets(centroids: Int) -> [Int] {
        let steps = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]
        let kept = steps.filter { $0 < centroids }
        return kept + [min(centroids, 256)].filter { !kept.contains($0) }
    }

    /// The smallest list budget whose calibrated recall reaches `target`, interpolated linearly
    /// between measured budgets; the largest measured budget when none reaches it.
    /// - Precondition: `points` is not empty.
    public func maxPostings(forTargetRecall target: Double) -> Int {
        // Recall measured on a sample is not strictly monotone; a running maximum is.
        var best = 0.0
        var previous: Point?
        for point in points {
            let recall = max(best, point.recall)
            if recall >= target {
                guard let previous, recall > previous.recall else { return point.maxPostings }
                let share = (target - previous.recall) / (recall - previous.recall)
                let budget = Double(previous.maxPostings) + share * Double(point.maxPostings - previous.maxPostings)
                // Less a hair before rounding up: 32 + 0.5 × 32 must give 48, not 49.
                return min(point.maxPostings, max(previous.maxPostings + 1, Int((budget - 1e-9).rounded(.up))))
            }
            best = recall
            previous = Point(maxPostings: point.maxPostings, recall: recall)
        }
        return points.last!.maxPostings
    }

    /// The best recall the table reached (at its largest budget, or before).
    public var bestRecall: Double { points.map(\.recall).max() ?? 0 }
}
