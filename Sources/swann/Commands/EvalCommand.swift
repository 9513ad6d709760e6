import ArgumentParser
import Foundation
import Swann

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure recall@k, QPS and latency of an index against ground truth.",
        discussion: """
            Queries run one at a time on each of --threads threads (default 1, the single-thread \
            latency figure). --sweep max-postings=4,8,16 repeats the run per value; also \
            search-candidates= and max-distance-ratio= (use 'none' to disable pruning).
            """
    )

    @Argument(help: "The index directory.")
    var index: String
    @Option(help: "The query vectors.")
    var queries: String
    @Option(help: "Ground-truth neighbours (.ivecs .ibin .npy).")
    var truth: String
    @Option(name: .short, help: "Neighbours per query (recall@k).")
    var k: Int = 10
    @Option(help: "A knob and values to sweep, e.g. max-postings=4,8,16,32,64.")
    var sweep: String?
    @Option(help: "Evaluate only the first N queries.")
    var limit: Int?
    @Option(help: "Search threads.")
    var threads = 1
    @OptionGroup var search: SearchOptions
    @Flag(help: "Print one JSON object per setting.")
    var json = false

    func validate() throws {
        guard k >= 1 else { throw ValidationError("-k must be at least 1, got \(k)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        try requireExisting(index, what: "index")
        try requireExisting(queries, what: "query file")
        try requireExisting(truth, what: "truth file")
        if let sweep { _ = try Sweep(sweep) }
    }

    struct Point: Encodable {
        var params: [String: String]
        var recall: Double
        var qps: Double
        var mean_ms: Double
        var p50_ms: Double
        var p99_ms: Double
        var postings_per_query: Double
        var bytes_per_query: Double
        var distances_per_query: Double
        var centroid_distances_per_query: Double
        /// Resident memory after the setting's searches less the process's before the index
        /// opened (queries and truth loaded): the index's own memory, measured as Tools/bench
        /// measures every peer's.
        var index_rss_mb = 0.0
        /// Mean time per query in the centroid search, in posting reads and in scanning.
        var centroid_ms: Double
        var io_ms: Double
        var scan_ms: Double
    }

    func run() async throws {
        // Queries and truth are loaded (and the query rows made) before the index opens, so the
        // resident memory the index adds can be told apart from the harness's (`index_rss_mb`).
        let queryFile = try VectorFile(path: queries)
        let count = min(limit ?? queryFile.count, queryFile.count)
        var groundTruth = try VectorFile(path: truth).readNeighbors()
        guard groundTruth.queryCount >= count else {
            throw ValidationError("\(truth) has \(groundTruth.queryCount) rows, fewer than the \(count) queries")
        }
        guard groundTruth.k >= k else { throw ValidationError("\(truth) has \(groundTruth.k) neighbours per query, fewer than k = \(k)") }
        groundTruth = NeighborTable(queryCount: count, k: groundTruth.k, ids: Array(groundTruth.ids.prefix(count * groundTruth.k)), distances: [])
        let queryMatrix = try queryFile.readVectors(rows: 0..<count)
        let rows = (0..<count).map { queryMatrix.floats(at: $0) }
        let harnessBytes = ResourceUsage.residentBytes
        let indexMegabytes = { Double(ResourceUsage.residentBytes - harnessBytes) / 1_048_576 }
        let opened = try Index.open(at: index, options: search.openOptions)
        try checkQueryDimension(queryFile, path: queries, index: opened)
        let base = try search.parameters(for: opened)
        let settings = try sweep.map { try Sweep($0).settings(from: base, index: opened) } ?? [(["default": ""], base)]
        let names = settings.map { Self.name(of: $0.0) }
        let width = max(24, (names.map(\.count).max() ?? 0) + 2)
        if !json {
            print(
                Self.row(
                    ["setting", "recall@\(k)", "QPS", "mean ms", "p50 ms", "p99 ms", "postings/q", "KiB/q", "centroid ms", "centroid d/q"],
                    labelWidth: width
                )
            )
        }
        for (label, parameters) in settings {
            var point = try measure(opened, queries: rows, truth: groundTruth, parameters: parameters, label: label)
            point.index_rss_mb = indexMegabytes()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(point), as: UTF8.self))
            } else {
                let name = Self.name(of: label)
                print(
                    Self.row(
                        [
                            name,
                            String(format: "%.4f", point.recall),
                            String(format: "%.0f", point.qps),
                            String(format: "%.3f", point.mean_ms),
                            String(format: "%.3f", point.p50_ms),
                            String(format: "%.3f", point.p99_ms),
                            String(format: "%.1f", point.postings_per_query),
                            String(format: "%.1f", point.bytes_per_query / 1024),
                            String(format: "%.3f", point.centroid_ms),
                            String(format: "%.0f", point.centroid_distances_per_query),
                        ],
                        labelWidth: width
                    )
                )
            }
        }
        if !json {
            print(String(format: "index memory: %.1f MiB resident (the process's, less its queries and truth)", indexMegabytes()))
        }
    }

    /// A setting's label as the table shows it: `target-recall=0.95 max-postings=23`.
    static func name(of label: [String: String]) -> String {
        label.sorted { $0.key > $1.key }.map { $0.value.isEmpty ? $0.key : "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// One table line: the setting left-aligned in `labelWidth` columns, the figures
    /// right-aligned in 13. (Foundation's `%-22@` does not pad on Linux, which once left the
    /// columns ragged.)
    static func row(_ cells: [String], labelWidth: Int = 24) -> String {
        func pad(_ text: String, _ width: Int, left: Bool) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        return ([pad(cells[0], labelWidth, left: true)] + cells.dropFirst().map { pad($0, 13, left: false) }).joined()
    }

    private func measure(
        _ index: Index,
        queries rows: [[Float]],
        truth: NeighborTable,
        parameters: SearchParameters,
        label: [String: String]
    ) throws -> Point {
        let n = rows.count
        let clock = ContinuousClock()
        var latencies = [Double](repeating: 0, count: n)
        var ids = [Int64](repeating: -1, count: n * k)
        var statistics = SearchStatistics()
        // Warm-up: touch the postings once so a warm-cache figure is warm.
        for q in 0..<min(n, 200) { _ = try index.search(rows[q], k: k, parameters: parameters) }
        let start = clock.now
        let perThread = (n + threads - 1) / threads
        let results = try (0..<threads).map { t in (t * perThread)..<min(n, (t + 1) * perThread) }.concurrentMap { range in
            try range.map { q -> (Int, SearchResult, Double) in
                let t0 = ContinuousClock.now
                let result = try index.searchWithStatistics(rows[q], k: k, parameters: parameters)
                return (q, result, (ContinuousClock.now - t0).seconds * 1000)
            }
        }
        let elapsed = (clock.now - start).seconds
        for (q, result, ms) in results.joined() {
            latencies[q] = ms
            statistics.add(result.statistics)
            for (j, neighbor) in result.neighbors.enumerated() { ids[q * k + j] = neighbor.id }
        }
        let recall = truth.recall(of: NeighborTable(queryCount: n, k: k, ids: ids, distances: []), at: k)
        let sorted = latencies.sorted()
        return Point(
            params: label,
            recall: recall,
            qps: Double(n) / elapsed,
            mean_ms: sorted.reduce(0, +) / Double(n),
            p50_ms: sorted[n / 2],
            p99_ms: sorted[min(n - 1, Int(Double(n) * 0.99))],
            postings_per_query: Double(statistics.postingsRead) / Double(n),
            bytes_per_query: Double(statistics.bytesRead) / Double(n),
            distances_per_query: Double(statistics.distancesComputed) / Double(n),
            centroid_distances_per_query: Double(statistics.centroidDistances) / Double(n),
            centroid_ms: statistics.centroidSeconds * 1000 / Double(n),
            io_ms: statistics.ioSeconds * 1000 / Double(n),
            scan_ms: statistics.scanSeconds * 1000 / Double(n)
        )
    }
}

/// `--sweep knob=v1,v2,…`.
struct Sweep {
    enum Knob: String {
        case maxPostings = "max-postings"
        case searchCandidates = "search-candidates"
        case maxDistanceRatio = "max-distance-ratio"
        case targetRecall = "target-recall"
    }
    let knob: Knob
    let values: [String]

    init(_ text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let knob = Knob(rawValue: parts[0]) else {
            throw ValidationError(
                "--sweep must look like max-postings=4,8,16 (knobs: max-postings, search-candidates, max-distance-ratio, target-recall)"
            )
        }
        self.knob = knob
        values = parts[1].split(separator: ",").map(String.init)
        for value in values {
            switch knob {
            case .maxPostings, .searchCandidates:
                guard let v = Int(value), v >= 1 else { throw ValidationError("--sweep \(knob.rawValue): '\(value)' is not a positive integer") }
            case .maxDistanceRatio:
                guard value == "none" || (Float(value) ?? 0) >= 1 else {
                    throw ValidationError("--sweep max-distance-ratio: '\(value)' is not ≥ 1 or 'none'")
                }
            case .targetRecall:
                guard let v = Double(value), v > 0, v <= 1 else { throw ValidationError("--sweep target-recall: '\(value)' is not in (0, 1]") }
            }
        }
    }

    /// Each value's label and parameters; a target recall is labelled with the list budget the
    /// index's calibration chose for it.
    func settings(from base: SearchParameters, index: Index) throws -> [([String: String], SearchParameters)] {
        try values.map { value in
            var p = base
            switch knob {
            case .maxPostings: p.maxPostings = Int(value)!
            case .searchCandidates: p.searchCandidates = Int(value)!
            case .maxDistanceRatio: p.maxDistanceRatio = value == "none" ? nil : Float(value)!
            case .targetRecall:
                do throws(SearchError) { p.maxPostings = try index.parameters(targetRecall: Double(value)!).maxPostings } catch {
                    throw ValidationError(error.message)
                }
                return ([knob.rawValue: value, "max-postings": "\(p.maxPostings)"], p)
            }
            return ([knob.rawValue: value], p)
        }
    }
}

extension Array where Element: Sendable {
    /// Maps each element on its own thread (used to run one search loop per thread).
    func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) throws -> T) throws -> [T] {
        var results = [Result<T, any Error>?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            Parallel.forEach(items: count, threads: count) { i in
                shared.value[i] = Result { try transform(self[i]) }
            }
        }
        return try results.map { try $0!.get() }
    }
}
