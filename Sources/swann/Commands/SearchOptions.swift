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
    }

    func parameters(defaults: SearchParameters) -> SearchParameters {
        var p = defaults
        if let maxPostings { p.maxPostings = maxPostings }
        if let searchCandidates { p.searchCandidates = searchCandidates }
        if let maxDistanceRatio { p.maxDistanceRatio = maxDistanceRatio }
        if noPruning { p.maxDistanceRatio = nil }
        if let checksums { p.checksums = checksums }
        return p
    }
}

/// Reads a query file and checks it against the index.
func loadQueries(_ path: String, format: VectorFileFormat?, index: Index) throws -> VectorMatrix {
    let file = try VectorFile(path: path, format: format)
    guard file.dimension == index.dimension else {
        throw ValidationError("\(path): queries have dimension \(file.dimension), the index has \(index.dimension)")
    }
    return try file.readVectors()
}
