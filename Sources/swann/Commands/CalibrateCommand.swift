import ArgumentParser
import Foundation
import Swann

struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure recall against lists read on a sample of real queries, for --target-recall.",
        discussion: """
            Replaces the table the build measured on its own vectors (docs/PARAMETERS.md, \
            "targetRecall"): queries from another distribution than the data reach less recall \
            than that table promises. Exact neighbours come from an exhaustive search of the index. \
            A running server reads the new table at its next reload.
            """
    )

    @Argument(help: "The index directory.")
    var index: String
    @Option(help: "Queries like the ones the index will answer (.fvecs .fbin .npy …).")
    var queries: String
    @Option(help: "Use only the first N queries.")
    var limit: Int?
    @OptionGroup var threading: ThreadOptions

    func validate() throws {
        try requireExisting(queries, what: "query file")
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let opened = try Index.open(at: index)
        var matrix = try loadQueries(queries, format: nil, index: opened)
        if let limit, limit < matrix.count { matrix = try VectorFile(path: queries).readVectors(rows: 0..<limit) }
        let calibration = try Index.calibrateRecall(at: index, queries: matrix, threads: threading.resolved)
        print("calibrated \(index) on \(calibration.sampleSize) queries: recall@\(calibration.k) by lists read")
        for point in calibration.points {
            print(String(format: "%8d  %.4f", point.maxPostings, point.recall))
        }
    }
}
