import Foundation
import Swann
import SwannTestSupport
import Testing

/// `targetRecall`: the build's calibration table, its lookup, and what a target reaches on the
/// example's queries.
struct TargetRecallTests {
    @Test func theLookupInterpolatesAndIsMonotone() {
        let table = RecallCalibration(
            sampleSize: 400,
            k: 10,
            points: [
                .init(maxPostings: 8, recall: 0.80), .init(maxPostings: 1, recall: 0.40), .init(maxPostings: 16, recall: 0.90),
                .init(maxPostings: 32, recall: 0.89), .init(maxPostings: 64, recall: 0.96),
            ]
        )
        #expect(table.points.map(\.maxPostings) == [1, 8, 16, 32, 64])
        #expect(table.maxPostings(forTargetRecall: 0.3) == 1)
        #expect(table.maxPostings(forTargetRecall: 0.8) == 8)
        #expect(table.maxPostings(forTargetRecall: 0.85) == 12)  // halfway from 8 to 16
        #expect(table.maxPostings(forTargetRecall: 0.9) == 16)
        // 32 measured below 16 (sampling noise): the running best keeps the lookup monotone.
        #expect(table.maxPostings(forTargetRecall: 0.93) == 48)  // from (32, 0.90) to (64, 0.96)
        #expect(table.maxPostings(forTargetRecall: 0.99) == 64, "beyond the table: its largest budget")
        let targets = stride(from: 0.05, through: 1.0, by: 0.01)
        let budgets = targets.map { table.maxPostings(forTargetRecall: $0) }
        #expect(zip(budgets, budgets.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(RecallCalibration.budgets(centroids: 10) == [1, 2, 3, 4, 6, 8, 10])
        #expect(RecallCalibration.budgets(centroids: 100_000).last == 256)
    }

    /// Recall@10 of `parameters` on the example's queries `range`.
    static func recall(_ index: Index, queries range: Range<Int>, parameters: SearchParameters) throws -> Double {
        let queries = try VectorFile(path: BundledExample.queries).readVectors(rows: range)
        let (answers, _) = try index.search(queries, k: 10, parameters: parameters)
        var hits = 0
        for (q, query) in range.enumerated() {
            let truth = Set((0..<10).map { IndexFixture.truth.ids[query * IndexFixture.truth.k + $0] })
            hits += (0..<10).filter { truth.contains(answers.ids[q * 10 + $0]) }.count
        }
        return Double(hits) / Double(10 * range.count)
    }

    @Test func aBuildMeasuresItsCalibrationOnItsOwnVectors() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        let calibration = try #require(index.manifest.recallCalibration)
        #expect(calibration.sampleSize == 400 && calibration.k == 10)
        #expect(calibration.points.first!.recall < 0.8 && calibration.bestRecall > 0.97, "\(calibration.points)")
        // The example's queries are questions against passages: harder than the build's own
        // vectors, so they reach less than the target (docs/PARAMETERS.md, "Bias"); never a
        // smaller budget for a higher target.
        var budgets: [Int] = []
        for target in [0.8, 0.9, 0.95] {
            let parameters = try index.parameters(targetRecall: target)
            budgets.append(parameters.maxPostings)
            let reached = try Self.recall(index, queries: 0..<1_000, parameters: parameters)
            print("build's calibration, target recall \(target): \(parameters.maxPostings) lists, recall@10 \(reached) on the example's queries")
            #expect(reached > target - 0.1 && reached < target + 0.02, "target \(target) reached \(reached)")
        }
        #expect(budgets == budgets.sorted())
        #expect(try index.parameters(SearchParameters.Overrides(searchCandidates: 300, targetRecall: 0.9)).searchCandidates == 300)
    }

    @Test func calibratedOnHalfTheQueriesTargetsAreReachedOnTheOtherHalf() throws {
        let directory = IndexFixture.scratch()
        let path = directory + "/example.swann"
        try FileManager.default.copyItem(atPath: IndexFixture.examplePath, toPath: path)
        let firstHalf = try VectorFile(path: BundledExample.queries).readVectors(rows: 0..<500)
        let calibration = try Index.calibrateRecall(at: path, queries: firstHalf)
        #expect(calibration.sampleSize == 500)
        let index = try Index.open(at: path)  // the manifest, rewritten in place, still verifies
        #expect(index.manifest.recallCalibration == calibration)
        for target in [0.9, 0.95] {
            let parameters = try index.parameters(targetRecall: target)
            let reached = try Self.recall(index, queries: 500..<1_000, parameters: parameters)
            print("calibrated on 500 queries, target recall \(target): \(parameters.maxPostings) lists, recall@10 \(reached) on the other 500")
            #expect(abs(reached - target) <= 0.02, "target \(target) reached \(reached)")
        }
    }

    @Test func badTargetsAreRefusedWithTheReason() throws {
        let index = try Index.open(at: IndexFixture.examplePath)
        #expect(throws: SearchError(.invalidParameters, "give target_recall or max_postings, not both")) {
            _ = try index.parameters(SearchParameters.Overrides(maxPostings: 8, targetRecall: 0.9))
        }
        for bad in [0, -0.5, 1.5, .nan, .infinity] {
            #expect(throws: SearchError.self) { _ = try index.parameters(targetRecall: bad) }
        }
        // An index built without a calibration names itself and the way out.
        let directory = IndexFixture.scratch()
        let input = IndexFixture.randomFile(count: 600, dimension: 8, seed: 3, in: directory)
        var options = IndexBuilder.Options()
        options.calibrationQueries = 0
        try IndexBuilder(options: options).build(from: try VectorFile(path: input), to: directory + "/plain.swann")
        let plain = try Index.open(at: directory + "/plain.swann")
        #expect(plain.manifest.recallCalibration == nil)
        let error = #expect(throws: SearchError.self) { _ = try plain.parameters(targetRecall: 0.9) }
        #expect(error?.message.contains("plain.swann has no recall calibration") == true, "\(String(describing: error))")
    }
}
