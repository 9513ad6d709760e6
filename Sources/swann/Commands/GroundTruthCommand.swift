import ArgumentParser
import Foundation
import Swann

struct GroundTruthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groundtruth",
        abstract: "Compute the exact k nearest neighbours of every query (brute force, all cores).",
        discussion: """
            The output format follows the extension: .ivecs (TEXMEX), .ibin (big-ann: ids then float32 \
            distances) or .npy (int32 ids). The base is scanned in chunks, so it may be larger than memory.
            """
    )

    @Argument(help: "The base vectors.")
    var base: String
    @Option(help: "The query vectors.")
    var queries: String
    @Option(name: .short, help: "Neighbours per query.")
    var k: Int = 100
    @Option(help: "Where to write the neighbours (.ivecs, .ibin or .npy).")
    var output: String
    @Option(help: "Distance: l2 (squared Euclidean), ip (inner product) or cosine.")
    var metric: Metric = .l2
    @Option(help: "Read the base as this format instead of guessing from the extension.")
    var format: VectorFileFormat?
    @Option(help: "Read the queries as this format instead of guessing from the extension.")
    var queryFormat: VectorFileFormat?
    @OptionGroup var threading: ThreadOptions
    @Option(help: "After writing, print the first N queries with their nearest neighbours.")
    var show = 0
    @Option(help: "Text lines for the base vectors (line i describes vector i), used by --show.")
    var texts: String?
    @Option(help: "Text lines for the queries, used by --show.")
    var queryTexts: String?

    func validate() throws {
        guard k >= 1 else { throw ValidationError("-k must be at least 1, got \(k)") }
        guard show >= 0 else { throw ValidationError("--show must not be negative") }
        try requireExisting(base, what: "base file")
        try requireExisting(queries, what: "query file")
        guard let outputFormat = VectorFileFormat(path: output), [.ivecs, .ibin, .npy].contains(outputFormat) else {
            throw ValidationError("--output must end in .ivecs, .ibin or .npy, got '\(output)'")
        }
        for path in [texts, queryTexts].compactMap({ $0 }) { try requireExisting(path, what: "text file") }
    }

    func run() async throws {
        let baseFile = try VectorFile(path: base, format: format)
        let queryFile = try VectorFile(path: queries, format: queryFormat)
        let (table, report) = try GroundTruth.compute(
            base: baseFile,
            queries: queryFile,
            k: k,
            metric: metric,
            threads: threading.resolved
        )
        try VectorFileWriter.write(table, to: output)
        writeError(
            String(
                format: "%d queries × %d base vectors, k = %d, %@: %.2f s (%.0f queries/s); wrote %@",
                report.queries,
                report.baseVectors,
                k,
                metric.rawValue,
                report.seconds,
                Double(report.queries) / max(report.seconds, 1e-9),
                output
            )
        )
        if show > 0 { try showNeighbors(table) }
    }

    private func showNeighbors(_ table: NeighborTable) throws {
        let baseLines = try texts.map(readLines) ?? []
        let queryLines = try queryTexts.map(readLines) ?? []
        for q in 0..<min(show, table.queryCount) {
            print("query \(q): \(q < queryLines.count ? queryLines[q] : "")")
            for j in 0..<min(5, table.k) where table.ids[q * table.k + j] >= 0 {
                let id = Int(table.ids[q * table.k + j])
                let distance = table.distances.isEmpty ? Float.nan : table.distances[q * table.k + j]
                print(String(format: "  %6d  %.4f  %@", id, distance, id < baseLines.count ? baseLines[id] : ""))
            }
        }
    }
}

/// The lines of a text file.
func readLines(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}
