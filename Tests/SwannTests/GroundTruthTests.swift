import Foundation
import Swann
import SwannTestSupport
import Testing

struct GroundTruthTests {
    @Test func bundledTruthIsReproducedExactly() throws {
        let base = try VectorFile(path: BundledExample.base)
        let queries = try VectorFile(path: BundledExample.queries)
        #expect(base.layout.scalar == .float16 && base.count == 10_000 && base.dimension == 384)
        #expect(queries.count == 1_000)
        // A small chunk size forces the larger-than-memory path (many chunks).
        let (table, report) = try GroundTruth.compute(base: base, queries: queries, k: 100, metric: .l2, chunkBytes: 1 << 20)
        #expect(report.queries == 1_000)
        let truth = try VectorFile(path: BundledExample.truth).readNeighbors()
        #expect(truth.k == 100)
        // Identical except where float32 rounding reorders exact ties (the truth is float64).
        let problems = disagreements(table, truth, queries: try queries.readVectors(), base: try base.readVectors(), k: 100)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test func dimensionMismatchIsReported() throws {
        let base = try VectorFile(path: BundledExample.base)
        let dir = TestDirectory.make("ground-truth")
        try VectorFileWriter.write(try VectorMatrix.from([[1, 2, 3]]), to: dir + "/q.fbin")
        #expect(throws: GroundTruthError.self) {
            try GroundTruth.compute(base: base, queries: try VectorFile(path: dir + "/q.fbin"), k: 5, metric: .l2)
        }
    }
}
