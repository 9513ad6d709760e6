@_spi(Engine) import SwannCore
import Testing

struct ExactSearchTests {
    @Test(arguments: [Metric.l2, .innerProduct, .cosine], [1, 3])
    func matchesNaiveSortOverManySeeds(metric: Metric, threads: Int) {
        for seed in UInt64(0)..<5 {
            var rng = SplitMix64(seed: seed)
            let (base, baseExact) = randomMatrix(count: 300, dimension: 19, elementType: .float32, rng: &rng)
            let (queries, queryExact) = randomMatrix(count: 37, dimension: 19, elementType: .float32, rng: &rng)
            let table = ExactSearch.nearest(queries: queries, base: base, k: 10, metric: metric, threads: threads)
            for q in 0..<queries.count {
                let want = (0..<base.count).map { (referenceDistance(queryExact[q], baseExact[$0], metric: metric), $0) }
                    .sorted { $0 < $1 }.prefix(10).map { Int64($0.1) }
                #expect(Array(table.ids(of: q)) == want, "seed \(seed) query \(q)")
                let distances = table.distances[q * 10..<(q + 1) * 10]
                #expect(zip(distances, distances.dropFirst()).allSatisfy { $0 <= $1 })
            }
        }
    }

    @Test func chunkedScanEqualsOneScan() {
        var rng = SplitMix64(seed: 9)
        let (base, _) = randomMatrix(count: 500, dimension: 24, elementType: .uint8, rng: &rng)
        let (queries, _) = randomMatrix(count: 20, dimension: 24, elementType: .uint8, rng: &rng)
        let whole = ExactSearch.nearest(queries: queries, base: base, k: 7, metric: .l2)
        let search = ExactSearch(queries: queries, baseElementType: .uint8, k: 7, metric: .l2)
        var rows = (0..<base.count).map { base.floats(at: $0) }
        var first = 0
        while !rows.isEmpty {
            let take = min(130, rows.count)
            search.add(try! VectorMatrix.from(Array(rows.prefix(take)), elementType: .uint8), firstID: Int64(first))
            rows.removeFirst(take)
            first += take
        }
        #expect(search.result() == whole)
    }

    @Test func fewerRowsThanKArePadded() {
        let base = try! VectorMatrix.from([[0, 0], [1, 1]])
        let queries = try! VectorMatrix.from([[0.9, 0.9]])
        let table = ExactSearch.nearest(queries: queries, base: base, k: 4, metric: .l2)
        #expect(Array(table.ids(of: 0)) == [1, 0, -1, -1])
        #expect(table.distances[2].isInfinite)
    }

    @Test func mixedElementTypesWidenToFloat32() {
        let base = try! VectorMatrix.from([[0, 0], [10, 10], [3, 4]], elementType: .uint8)
        let queries = try! VectorMatrix.from([[2.9, 4.2]], elementType: .float32)
        let table = ExactSearch.nearest(queries: queries, base: base, k: 1, metric: .l2)
        #expect(table.ids == [2])
        #expect(abs(table.distances[0] - 0.05) < 1e-5)
    }

    @Test func recallCountsOverlap() {
        let truth = NeighborTable(queryCount: 2, k: 3, ids: [1, 2, 3, 4, 5, 6], distances: [])
        let results = NeighborTable(queryCount: 2, k: 3, ids: [3, 9, 1, 4, 5, 6], distances: [])
        #expect(truth.recall(of: results, at: 3) == 5.0 / 6.0)
        #expect(truth.recall(of: results, at: 1) == 0.5)
    }
}
