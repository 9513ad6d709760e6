@_spi(Engine) import SwannCore

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// Measures an index's `RecallCalibration`: a sample of its own vectors is searched, each
/// without itself, at every list budget of `RecallCalibration.budgets(centroids:)`, against
/// exact neighbours found by brute force over every row.
///
/// Excluding the query's own id (from both the answer and the truth) makes a data vector stand
/// in for an unseen query from the same distribution; a sample of 400 puts the standard error
/// of a recall near 0.95 at about 0.003.
struct RecallCalibrator {
    /// Vectors sampled (fewer when the index has fewer).
    var queries: Int
    /// Seeds the sample, so that builds stay deterministic.
    var seed: UInt64 = 1
    /// Threads for the exact search and the sample's searches.
    var threads: Int
    /// The k of recall@k.
    var k = 10

    /// - Parameters:
    ///   - index: the index, opened from its staged files.
    ///   - rows: the float32 rows it was built from (normalised for cosine), in row order.
    ///   - metric: the metric to rank `rows` by exactly (l2 for normalised rows).
    ///   - userIDs: the id of each row, when not its row number.
    func calibrate(_ index: Index, rows: VectorMatrix, metric: Metric, userIDs: [UInt64]?) throws -> RecallCalibration {
        let count = rows.count
        let k = min(self.k, count - 1)
        guard k >= 1 else { return RecallCalibration(sampleSize: 0, k: 0, points: []) }
        var rng = SplitMix64(seed: seed)
        var sample = Array(0..<count)
        let size = min(queries, count)
        for i in 0..<size { sample.swapAt(i, i + Int(rng.next() % UInt64(count - i))) }
        sample = Array(sample[0..<size]).sorted()
        let queryRows = try VectorMatrix.from(sample.map { rows.floats(at: $0) }, elementType: .float32)
        // k + 1: the query itself is among the rows (first, unless it has duplicates).
        let exact = ExactSearch.nearest(queries: queryRows, base: rows, k: k + 1, metric: metric, threads: threads)
        let id = { (row: Int) -> Int64 in Int64(bitPattern: userIDs?[row] ?? UInt64(row)) }
        let truth: [Set<Int64>] = sample.enumerated().map { q, row in
            let found = (0...k).map { Int(exact.ids[q * (k + 1) + $0]) }
            let others = found.filter { $0 != row }.prefix(k)
            return Set(others.map(id))
        }
        return try sweep(index, queries: queryRows, truth: truth, excluding: sample.map(id), k: k)
    }

    /// Calibrates on `queries` (a sample of real queries): their exact neighbours come from an
    /// exhaustive search of the index itself (every list read, no pruning).
    /// - Throws: `SearchError` for queries the index refuses, or an index of more than 100,000
    ///   centroids (beyond what one search may read).
    func calibrate(_ index: Index, queries: VectorMatrix) throws -> RecallCalibration {
        let centroids = index.header.centroids.count
        guard centroids <= 100_000 else {
            throw SearchError(.invalidParameters, "\(index.path) has \(centroids) centroids; calibrating on queries reads them all, at most 100,000")
        }
        let k = min(self.k, index.count)
        var exhaustive = index.defaultParameters
        exhaustive.maxPostings = centroids
        exhaustive.searchCandidates = centroids
        exhaustive.maxDistanceRatio = nil
        let truth = NIOLockedValueBox([Set<Int64>](repeating: [], count: queries.count))
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        Parallel.forEach(items: queries.count, threads: threads) { q in
            do {
                let found = Set(try index.search(queries.floats(at: q), k: k, parameters: exhaustive).map(\.id))
                truth.withLockedValue { $0[q] = found }
            } catch {
                failure.withLockedValue { $0 = error }
            }
        }
        if let error = failure.withLockedValue({ $0 }) { throw error }
        return try sweep(index, queries: queries, truth: truth.withLockedValue { $0 }, excluding: nil, k: k)
    }

    /// Recall@k of `queries` against `truth` at every budget; `excluding[q]` is an id dropped
    /// from query q's answers (the query itself, when it is an indexed vector).
    private func sweep(_ index: Index, queries: VectorMatrix, truth: [Set<Int64>], excluding: [Int64]?, k: Int) throws -> RecallCalibration {
        let size = queries.count
        let budgets = RecallCalibration.budgets(centroids: index.header.centroids.count)
        let hits = NIOLockedValueBox([Int](repeating: 0, count: budgets.count))
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        Parallel.forEach(items: size, threads: threads) { q in
            let query = queries.floats(at: q)
            let extra = excluding == nil ? 0 : 1
            var found = [Int](repeating: 0, count: budgets.count)
            do {
                for (b, budget) in budgets.enumerated() {
                    var parameters = index.defaultParameters
                    parameters.maxPostings = budget
                    let answer = try index.search(query, k: k + extra, parameters: parameters).map(\.id).filter { $0 != excluding?[q] }.prefix(k)
                    found[b] = answer.filter(truth[q].contains).count
                }
            } catch {
                failure.withLockedValue { $0 = error }
            }
            hits.withLockedValue { total in for b in 0..<budgets.count { total[b] += found[b] } }
        }
        if let error = failure.withLockedValue({ $0 }) { throw error }
        let totals = hits.withLockedValue { $0 }
        return RecallCalibration(
            sampleSize: size,
            k: k,
            points: budgets.enumerated().map { b, budget in
                RecallCalibration.Point(maxPostings: budget, recall: Double(totals[b]) / Double(size * k))
            }
        )
    }
}
