import ArgumentParser
import Swann

/// Search knobs shared by `search` and `eval`; unset ones keep the index's defaults.
struct SearchOptions: ParsableArguments {
    @Option(help: "Most posting lists read per query (like faiss nprobe).")
    var maxPostings: Int?
    @Option(help: "Centroid candidates kept by the graph search.")
    var searchCandidates: Int?
    @Option(help: "Read only lists whose centroid is within this × the nearest centroid's distance.")
    var maxDistanceRatio: Float?
    @Flag(help: "Disable distance-ratio pruning.")
    var noPruning = false
    @Option(help: "Read as many lists as reached this recall@10 on the build's sample of its own vectors (instead of --max-postings).")
    var targetRecall: Double?
    @Option(help: "When to verify posting-list checksums: first-read, every-read or never.")
    var checksums: SearchParameters.ChecksumPolicy?
    @Option(help: "How to read postings: pread (page cache), mmap (page cache without a copy; counts in RSS), direct (O_DIRECT), memory.")
    var io: Index.IOMode = .pread
    @Flag(help: "Read postings with O_DIRECT, bypassing the page cache (same as --io direct).")
    var directIO = false

    var openOptions: Index.OpenOptions { Index.OpenOptions(io: directIO ? .direct : io) }

    func validate() throws {
        if let maxPostings, maxPostings < 1 { throw ValidationError("--max-postings must be at least 1") }
        if let searchCandidates, searchCandidates < 1 { throw ValidationError("--search-candidates must be at least 1") }
        if let maxDistanceRatio, !(maxDistanceRatio >= 1) { throw ValidationError("--max-distance-ratio must be ≥ 1") }
        if let targetRecall {
            guard targetRecall > 0, targetRecall <= 1 else { throw ValidationError("--target-recall must be in (0, 1], got \(targetRecall)") }
            guard maxPostings == nil else { throw ValidationError("give --target-recall or --max-postings, not both") }
        }
    }

    /// The index's defaults with these options applied (a target recall looked up in its
    /// calibration).
    func parameters(for index: Index) throws -> SearchParameters {
        let overrides = SearchParameters.Overrides(
            maxPostings: maxPostings,
            searchCandidates: searchCandidates,
            maxDistanceRatio: maxDistanceRatio,
            disablePruning: noPruning,
            targetRecall: targetRecall
        )
        var p: SearchParameters
        do throws(SearchError) { p = try index.parameters(overrides) } catch { throw ValidationError(error.message) }
        if let checksums { p.checksums = checksums }
        return p
    }
}

/// Reads a query file and checks it against the index.
func loadQueries(_ path: String, format: VectorFileFormat?, index: Index) throws -> VectorMatrix {
    let file = try VectorFile(path: path, format: format)
    try checkQueryDimension(file, path: path, index: index)
    return try file.readVectors()
}

/// Refuses a query file whose dimension is not the index's.
func checkQueryDimension(_ file: VectorFile, path: String, index: Index) throws {
    guard file.dimension == index.dimension else {
        throw ValidationError("\(path): queries have dimension \(file.dimension), the index has \(index.dimension)")
    }
}
