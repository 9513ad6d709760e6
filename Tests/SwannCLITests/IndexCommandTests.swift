import Foundation
import Swann
import SwannTestSupport
import Testing

/// `swann build`, `search`, `eval` and `info` end to end on the bundled example.
@Suite(.serialized)
struct IndexCommandTests {
    static let index: String = {
        let path = CLI.temporaryDirectory() + "/example.swann"
        let result = try! CLI.run(["build", BundledExample.base, "--output", path, "--json"])
        precondition(result.status == 0, result.stderr)
        return path
    }()

    @Test func buildPrintsAJSONSummaryAndRefusesToOverwrite() throws {
        let dir = CLI.temporaryDirectory()
        let result = try CLI.run(["build", BundledExample.base, "--output", dir + "/a.swann", "--json", "--centroid-ratio", "0.1"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["vectors"] as? Int == 10_000)
        #expect(abs((summary["centroids"] as? Int ?? 0) - 1_000) <= 50)
        #expect((summary["secondsPerPhase"] as? [String: Double])?.keys.contains("assign") == true)
        let again = try CLI.run(["build", BundledExample.base, "--output", dir + "/a.swann"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists"))
    }

    @Test func evalReportsRecallAndCosts() throws {
        let result = try CLI.run([
            "eval", Self.index, "--queries", BundledExample.queries, "--truth", BundledExample.truth, "-k", "10",
            "--sweep", "max-postings=16,64", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 2)
        for key in ["params", "recall", "qps", "mean_ms", "p99_ms", "postings_per_query", "bytes_per_query"] {
            #expect(lines.allSatisfy { $0[key] != nil }, "missing \(key)")
        }
        let recalls = lines.map { $0["recall"] as! Double }
        #expect(recalls[1] >= 0.9 && recalls[1] >= recalls[0])
    }

    @Test func calibrateThenSweepTargetRecall() throws {
        let directory = CLI.temporaryDirectory()
        let path = directory + "/calibrated.swann"
        try FileManager.default.copyItem(atPath: Self.index, toPath: path)
        let calibrated = try CLI.run(["calibrate", path, "--queries", BundledExample.queries, "--limit", "300"])
        #expect(calibrated.status == 0, "\(calibrated.stderr)")
        #expect(calibrated.stdout.contains("calibrated \(path) on 300 queries"))
        let info = try CLI.run(["info", path])
        #expect(info.stdout.contains("recall@10 by lists read (300 of"), "\(info.stdout)")
        let sweep = try CLI.run([
            "eval", path, "--queries", BundledExample.queries, "--truth", BundledExample.truth, "-k", "10",
            "--sweep", "target-recall=0.8,0.95", "--json",
        ])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let points = sweep.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let recalls = points.compactMap { $0["recall"] as? Double }
        #expect(recalls.count == 2 && recalls[0] < recalls[1], "\(sweep.stdout)")
        #expect(abs(recalls[1] - 0.95) <= 0.03, "target 0.95 reached \(recalls[1])")
        let both = try CLI.run(["search", path, "--queries", BundledExample.queries, "--target-recall", "0.9", "--max-postings", "8"])
        #expect(both.status == 2 && both.stderr.contains("not both"), "\(both.stderr)")
        let plain = try CLI.run(["build", BundledExample.base, "--output", directory + "/plain.swann", "--calibration-queries", "0"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let refused = try CLI.run(["search", directory + "/plain.swann", "--queries", BundledExample.queries, "--target-recall", "0.9"])
        #expect(refused.status != 0 && refused.stderr.contains("no recall calibration"), "\(refused.stderr)")
    }

    @Test(arguments: ["ivecs", "json"])
    func searchWritesResults(format: String) throws {
        let output = CLI.temporaryDirectory() + "/results." + format
        let result = try CLI.run(["search", Self.index, "--queries", BundledExample.queries, "-k", "10", "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        if format == "ivecs" {
            let table = try VectorFile(path: output).readNeighbors()
            #expect(table.queryCount == 1_000 && table.k == 10)
            let truth = try VectorFile(path: BundledExample.truth).readNeighbors()
            #expect(truth.recall(of: table, at: 10) >= 0.9)
        } else {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
            let rows = try #require(object["results"] as? [[[String: Any]]])
            #expect(rows.count == 1_000 && rows[0].count == 10)
            #expect(rows[0][0]["id"] is Int && rows[0][0]["distance"] is Double)
        }
    }

    @Test func infoDescribesAnIndex() throws {
        let text = try CLI.run(["info", Self.index])
        #expect(text.status == 0)
        #expect(text.stdout.contains("copies:") && text.stdout.contains("posting length:"))
        let json = try CLI.run(["info", Self.index, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["servingMemoryBytes"] as? Int ?? 0) > 0)
        #expect((object["diskBytes"] as? [String: Int])?["postings.bin"] != nil)
    }

    /// `--store rabitq` end to end: build, info, eval and a refusal for 8-bit input.
    @Test func aRaBitQIndexBuildsDescribesItselfAndKeepsRecall() throws {
        let directory = CLI.temporaryDirectory()
        let path = directory + "/rabitq.swann"
        let built = try CLI.run(["build", BundledExample.base, "--output", path, "--store", "rabitq", "--calibration-queries", "0"])
        #expect(built.status == 0, "\(built.stderr)")
        let info = try CLI.run(["info", path])
        #expect(info.stdout.contains("format 3") && info.stdout.contains("RaBitQ codes (512 bits"), "\(info.stdout)")
        #expect(info.stdout.contains("80 bytes an entry"), "\(info.stdout)")
        let eval = try CLI.run([
            "eval", path, "--queries", BundledExample.queries, "--truth", BundledExample.truth, "-k", "10", "--json", "--io", "mmap",
        ])
        #expect(eval.status == 0, "\(eval.stderr)")
        let point = try #require(try JSONSerialization.jsonObject(with: Data(eval.stdout.split(separator: "\n").last!.utf8)) as? [String: Any])
        #expect((point["recall"] as? Double ?? 0) >= 0.95, "\(eval.stdout)")
        try VectorFileWriter.write(try VectorMatrix.from([[1, 2, 3], [4, 5, 6], [7, 8, 9]], elementType: .uint8), to: directory + "/v.u8bin")
        let refused = try CLI.run(["build", directory + "/v.u8bin", "--output", directory + "/u8.swann", "--store", "rabitq"])
        #expect(refused.status == 1 && refused.stderr.contains("--store rabitq needs float32 or float16 input"), "\(refused.stderr)")
    }

    @Test func searchRejectsAQueryFileOfTheWrongDimension() throws {
        let dir = CLI.temporaryDirectory()
        try VectorFileWriter.write(try VectorMatrix.from([[1, 2, 3]]), to: dir + "/q.fbin")
        let result = try CLI.run(["search", Self.index, "--queries", dir + "/q.fbin"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("dimension 3"))
    }
}
