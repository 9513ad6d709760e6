import ArgumentParser
import Foundation
import Swann

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search an index with a file of queries."
    )

    @Argument(help: "The index directory.")
    var index: String
    @Option(help: "The query vectors.")
    var queries: String
    @Option(help: "Read the queries as this format instead of guessing from the extension.")
    var queryFormat: VectorFileFormat?
    @Option(name: .short, help: "Neighbours per query.")
    var k: Int = 10
    @Option(help: "Write results here: .ivecs/.ibin/.npy (ids) or .json (ids and distances). Default: print.")
    var output: String?
    @Option(help: "Text lines for the indexed vectors (line i describes row i), to print neighbours' texts.")
    var texts: String?
    @Option(help: "Text lines for the queries.")
    var queryTexts: String?
    @Option(help: "When printing, show at most this many queries.")
    var show = 10
    @OptionGroup var search: SearchOptions
    @OptionGroup var threading: ThreadOptions

    func validate() throws {
        guard k >= 1 else { throw ValidationError("-k must be at least 1, got \(k)") }
        try requireExisting(index, what: "index")
        try requireExisting(queries, what: "query file")
        if let output {
            let ext = output.split(separator: ".").last.map(String.init) ?? ""
            guard ["ivecs", "ibin", "npy", "json"].contains(ext) else {
                throw ValidationError("--output must end in .ivecs, .ibin, .npy or .json, got '\(output)'")
            }
        }
    }

    func run() async throws {
        let opened = try Index.open(at: index, options: search.openOptions)
        let queryMatrix = try loadQueries(queries, format: queryFormat, index: opened)
        guard k <= opened.count else { throw ValidationError("-k \(k) exceeds the \(opened.count) vectors in the index") }
        let (table, _) = try opened.search(
            queryMatrix,
            k: k,
            parameters: try search.parameters(for: opened),
            threads: threading.resolved
        )
        if let output {
            if output.hasSuffix(".json") {
                try writeJSON(table, to: output)
            } else {
                try VectorFileWriter.write(table, to: output)
            }
            return
        }
        let baseLines = try texts.map(readLines) ?? []
        let queryLines = try queryTexts.map(readLines) ?? []
        for q in 0..<min(show, table.queryCount) {
            print("query \(q)\(q < queryLines.count ? ": " + queryLines[q] : "")")
            for j in 0..<k where table.ids[q * k + j] >= 0 {
                let id = table.ids[q * k + j]
                let text = id < baseLines.count ? baseLines[Int(id)] : ""
                print(String(format: "  %8lld  %.4f  %@", id, table.distances[q * k + j], text))
            }
        }
    }

    private func writeJSON(_ table: NeighborTable, to path: String) throws {
        struct Hit: Encodable {
            var id: Int64
            var distance: Float
        }
        let rows = (0..<table.queryCount).map { q in
            (0..<table.k).compactMap { j -> Hit? in
                table.ids[q * table.k + j] < 0 ? nil : Hit(id: table.ids[q * table.k + j], distance: table.distances[q * table.k + j])
            }
        }
        // Sorted keys: the same answers give the same bytes, so two runs can be compared with cmp.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(["results": rows]).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
