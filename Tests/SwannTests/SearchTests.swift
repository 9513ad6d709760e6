import Foundation
import Swann
@_spi(Engine) import SwannCore
import SwannStorage
import SwannTestSupport
import Testing

struct SearchTests {
    @Test func defaultParametersReachRecall90OnTheBundledExample() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        let (table, statistics) = try index.search(IndexFixture.queries, k: 10)
        let recall = IndexFixture.truth.recall(of: table, at: 10)
        #expect(recall >= 0.9, "recall@10 = \(recall)")
        #expect(statistics.allSatisfy { $0.postingsRead >= 1 && $0.postingsRead <= index.defaultParameters.maxPostings })
        #expect(statistics.allSatisfy { $0.bytesRead > 0 && $0.distancesComputed > 0 })
    }

    @Test func morePostingsRaiseRecallTowards99() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        var parameters = index.defaultParameters
        parameters.maxPostings = 256
        parameters.searchCandidates = 256
        parameters.maxDistanceRatio = nil
        let (table, _) = try index.search(IndexFixture.queries, k: 10, parameters: parameters)
        #expect(IndexFixture.truth.recall(of: table, at: 10) >= 0.99)
    }

    @Test func theCentroidBeamIsAtLeastTwiceTheListsRead() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        var narrow = index.defaultParameters
        narrow.maxPostings = 16
        narrow.searchCandidates = 1
        var wide = narrow
        wide.searchCandidates = 32
        #expect(narrow.effectiveSearchCandidates == 32)
        let (narrowTable, _) = try index.search(IndexFixture.queries, k: 10, parameters: narrow)
        let (wideTable, _) = try index.search(IndexFixture.queries, k: 10, parameters: wide)
        #expect(narrowTable.ids == wideTable.ids)
        wide.searchCandidates = 100
        #expect(wide.effectiveSearchCandidates == 100, "a wider beam than 2 × lists stands")
    }

    @Test func singleAndBatchSearchAgree() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        let (table, _) = try index.search(IndexFixture.queries, k: 10, threads: 2)
        for q in 0..<100 {
            let single = try index.search(IndexFixture.queries.floats(at: q), k: 10)
            #expect(single.map(\.id) == Array(table.ids(of: q)), "query \(q)")
            #expect(single.map(\.distance) == Array(table.distances[q * 10..<(q + 1) * 10]))
        }
    }

    @Test func everyIOPathGivesTheSameAnswers() throws {
        let mapped = try Index.open(at: IndexFixture.examplePath)
        let others = try [Index.IOMode.mmap, .direct, .memory].map { try Index.open(at: IndexFixture.examplePath, options: .init(io: $0)) }
        for q in 0..<50 {
            let query = IndexFixture.queries.floats(at: q)
            let expected = try mapped.searchWithStatistics(query, k: 10)
            for other in others {
                #expect(try other.search(query, k: 10) == expected.neighbors)
            }
        }
    }

    @Test func distancesAreTheMetricsDistances() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        let base = try VectorFile(path: BundledExample.base).readVectors()
        let query = IndexFixture.queries.floats(at: 3)
        for hit in try index.search(query, k: 5) {
            let exact = Distance.between(query, base.floats(at: Int(hit.id)), metric: .l2)
            #expect(abs(exact - hit.distance) < 2e-3, "id \(hit.id): \(hit.distance) vs \(exact)")
        }
    }

    @Test func badQueriesFailAloneAndTheIndexKeepsWorking() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        let good = IndexFixture.queries.floats(at: 0)
        let expected = try index.search(good, k: 10)
        let cases: [([Float], Int, SearchError.Code)] = [
            (Array(good.prefix(100)), 10, .wrongDimension),
            (good.enumerated().map { $0.offset == 7 ? .nan : $0.element }, 10, .nonFinite),
            (good.enumerated().map { $0.offset == 7 ? .infinity : $0.element }, 10, .nonFinite),
            (good.enumerated().map { $0.offset == 7 ? 1e30 : $0.element }, 10, .outOfRange),  // distances overflow float32
            (good, 0, .invalidK),
            (good, 10_001, .invalidK),
        ]
        for (query, k, code) in cases {
            let error = #expect(throws: SearchError.self) { try index.search(query, k: k) }
            #expect(error?.code == code)
        }
        var bad = SearchParameters()
        bad.maxPostings = 0
        let error = #expect(throws: SearchError.self) { try index.search(good, k: 10, parameters: bad) }
        #expect(error?.code == .invalidParameters)
        #expect(try index.search(good, k: 10) == expected)
    }

    @Test func pruningAlwaysKeepsTheNearestCentroidsList() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<500 {
            let count = Int(rng.next() % 40) + 1
            var distance: Float = rng.nextUnitFloat()
            let candidates = (0..<count).map { node -> (node: Int, distance: Float) in
                distance += rng.nextUnitFloat()
                return (node * 7, distance)
            }
            let ratio: Float? = rng.next() % 3 == 0 ? nil : 1 + rng.nextUnitFloat() * 3
            let maxPostings = Int(rng.next() % 10) + 1
            let lists = ListSelection.select(candidates, maxPostings: maxPostings, maxDistanceRatio: ratio, distanceOffset: 0)
            #expect(lists.first == candidates[0].node)
            #expect(lists.count <= maxPostings)
            if let ratio, candidates[0].distance >= ListSelection.negligibleShare * candidates[count - 1].distance {
                #expect(
                    lists.allSatisfy { node in
                        candidates.first { $0.node == node }!.distance <= ratio * candidates[0].distance || node == candidates[0].node
                    }
                )
            }
        }
    }

    /// A query equal to a centroid is ~1e-7 from it in cosine distance (rounding), not 0: the
    /// ratio test must not take that for its basis and read that one list alone. A sixth of
    /// the indexed vectors are centroids, and "more like this one" queries are common.
    @Test(arguments: [Metric.cosine, .l2])
    func aQueryAtACentroidReadsItsNeighboursListsToo(metric: Metric) throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 3_000, dimension: 24, seed: 8, in: dir)
        var options = IndexBuilder.Options()
        options.metric = metric
        options.calibrationQueries = 0
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        let index = try Index.open(at: dir + "/idx")
        let heads = try IndexReader.open(dir + "/idx").centroidRows.prefix(20)
        let matrix = try VectorFile(path: vectors).readVectors()
        for head in heads {
            let result = try index.searchWithStatistics(matrix.floats(at: Int(head)), k: 10)
            #expect(result.statistics.postingsRead > 1, "\(metric): head row \(head) read \(result.statistics.postingsRead) list")
            #expect(result.neighbors.first?.id == Int64(head))
        }
    }

    @Test func userIDsComeBackInResults() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 600, dimension: 16, seed: 5, in: dir)
        let ids = (0..<600).map { UInt64(1_000_000 + $0 * 3) }
        var options = IndexBuilder.Options()
        options.ids = ids
        options.metric = .cosine
        try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/idx")
        let index = try Index.open(at: dir + "/idx")
        let matrix = try VectorFile(path: vectors).readVectors()
        let hits = try index.search(matrix.floats(at: 42), k: 3)
        let first = try #require(hits.first)
        let expectedID: Int64 = 1_000_000 + 42 * 3
        #expect(first.id == expectedID)
        #expect(abs(first.distance) < 1e-5, "cosine distance of a vector to itself: \(first.distance)")
    }

    /// Finite but extreme queries: refused where float32 distances would overflow, answered
    /// with finite distances where the metric normalises (hardening issue #15).
    @Test func extremeFiniteQueriesAreRefusedOrComputedSafely() throws {
        let dir = IndexFixture.scratch()
        let vectors = IndexFixture.randomFile(count: 600, dimension: 16, seed: 9, in: dir)
        let matrix = try VectorFile(path: vectors).readVectors()
        for metric in [Metric.l2, .innerProduct, .cosine] {
            var options = IndexBuilder.Options()
            options.metric = metric
            try IndexBuilder(options: options).build(from: try VectorFile(path: vectors), to: dir + "/\(metric)")
            let index = try Index.open(at: dir + "/\(metric)")
            let query = matrix.floats(at: 17)
            for scale: Float in [1e19, 1e30, 1e36] {
                let huge = query.map { $0 * scale }
                if metric == .cosine {
                    // Cosine ignores the scale: the same neighbours as the plain query, finite distances.
                    let hits = try index.search(huge, k: 5)
                    #expect(hits.map { $0.id } == (try index.search(query, k: 5)).map { $0.id }, "scale \(scale)")
                    #expect(hits.allSatisfy { $0.distance.isFinite })
                } else {
                    let error = #expect(throws: SearchError.self, "\(metric) scale \(scale)") { try index.search(huge, k: 5) }
                    #expect(error?.code == .outOfRange)
                }
            }
            // Tiny vectors, whose float sum of squares underflows to 0, still have a direction.
            if metric == .cosine {
                let tiny = query.map { $0 * 1e-30 }
                #expect(try index.search(tiny, k: 5).map { $0.id } == (try index.search(query, k: 5)).map { $0.id })
            }
        }
    }
}
