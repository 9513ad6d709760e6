import ArgumentParser
import Foundation
import Swann

import struct NIOConcurrencyHelpers.NIOLockedValueBox

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a SPANN index from a vector file.",
        discussion: "Knobs are explained in docs/PARAMETERS.md. The index appears under --output only when complete."
    )

    @Argument(help: "The vector file (.fvecs .bvecs .fbin .u8bin .i8bin .npy).")
    var vectors: String
    @Option(help: "The index directory to create.")
    var output: String
    @Option(help: "Distance: l2, ip or cosine.")
    var metric: Metric = .l2
    @Option(help: "Read the input as this format instead of guessing from the extension.")
    var format: VectorFileFormat?
    @Option(help: "User ids, one per vector: a text file (one per line), .ivecs, .ibin, or .npy (int32, int64, uint64).")
    var ids: String?
    @Option(
        help: ArgumentHelp(
            "How float input is stored in the postings: rabitq (the default: RaBitQ codes, one bit per dimension + 12 bytes, scanned with an error bound), int8 (codes, a quarter of the bytes), f16 (float32 input; half the bytes) or f32 (rows as given). With rabitq and int8 the exact rows are kept once, for re-ranking. 8-bit input is stored as given.",
            valueName: "rabitq|int8|f16|f32"
        )
    )
    var store: StoredType?
    @Option(help: "Fraction of the vectors that become centroids (0.01...1).")
    var centroidRatio = 0.16
    @Option(help: "Most posting lists a vector is copied into.")
    var replicas = 12
    @Option(help: "Closure ε₁: copy a vector to centroids within (1+ε₁)× its nearest centroid's distance.")
    var closureEpsilon: Float = 10
    @Option(help: "RNG rule factor (0 disables the rule).")
    var rngFactor: Float = 1
    @Option(help: "Cap on entries per posting list.")
    var postingLimit = 256
    @Option(help: "Out-degree of the centroid graph.")
    var graphDegree = 32
    @Option(help: "Seed for clustering and graph construction.")
    var seed: UInt64 = 1
    @Option(help: "Build shard i of N (i/N): rows with row number % N == i, answering with global row ids.")
    var shard: String?
    @Option(help: "Vectors searched (each without itself) to measure recall against the list budget, for --target-recall; 0 skips it.")
    var calibrationQueries = 400
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "Drop rows with NaN or infinity instead of refusing the input.")
    var skipInvalid = false
    @Flag(help: "Replace an existing index at --output.")
    var force = false
    @Flag(help: "Print a JSON summary at the end.")
    var json = false

    enum StoredType: String, ExpressibleByArgument { case f16, f32, int8, rabitq }

    func validate() throws {
        try requireExisting(vectors, what: "vector file")
        if let ids { try requireExisting(ids, what: "ids file") }
        guard centroidRatio > 0, centroidRatio <= 1 else { throw ValidationError("--centroid-ratio must be in (0, 1], got \(centroidRatio)") }
        guard (1...32).contains(replicas) else { throw ValidationError("--replicas must be in 1...32, got \(replicas)") }
        guard postingLimit >= 1 else { throw ValidationError("--posting-limit must be at least 1") }
        guard (2...256).contains(graphDegree) else { throw ValidationError("--graph-degree must be in 2...256") }
        guard closureEpsilon >= 0, closureEpsilon.isFinite, rngFactor >= 0, rngFactor.isFinite else {
            throw ValidationError("--closure-epsilon and --rng-factor must be finite and ≥ 0, got \(closureEpsilon) and \(rngFactor)")
        }
        guard (0...100_000).contains(calibrationQueries) else { throw ValidationError("--calibration-queries must be in 0...100000") }
        if let shard, parseShard(shard) == nil { throw ValidationError("--shard must look like i/N with 0 ≤ i < N, got '\(shard)'") }
    }

    func parseShard(_ text: String) -> IndexManifest.Shard? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        return IndexManifest.Shard(index: i, count: n)
    }

    func run() async throws {
        let input = try VectorFile(path: vectors, format: format)
        var options = IndexBuilder.Options()
        options.metric = metric
        options.postings =
            switch store {
            case nil: .automatic
            case .f16: .rows(.float16)
            case .f32: .rows(.float32)
            case .int8: .rows(.int8)
            case .rabitq: .rabitq
            }
        options.configuration.heads.centroidRatio = centroidRatio
        options.configuration.heads.seed = seed
        options.configuration.graph.seed = seed
        options.configuration.graph.degree = graphDegree
        options.configuration.graph.buildBeamWidth = max(options.configuration.graph.buildBeamWidth, graphDegree)
        options.configuration.assignment.replicaCount = replicas
        options.configuration.assignment.closureEpsilon = closureEpsilon
        options.configuration.assignment.rngFactor = rngFactor
        options.configuration.assignment.postingLimit = postingLimit
        options.configuration.assignment.candidateCount = max(options.configuration.assignment.candidateCount, replicas)
        options.skipInvalid = skipInvalid
        options.calibrationQueries = calibrationQueries
        options.overwrite = force
        options.threads = threading.resolved
        if let shard { options.shard = parseShard(shard)! }
        if let ids { options.ids = try IDFile.read(ids) }
        let reporter = ProgressReporter(enabled: isatty(STDERR_FILENO) == 1 && !json)
        let manifest = try IndexBuilder(options: options).build(from: input, to: output, progress: reporter.report)
        reporter.done()
        if json {
            let summary = BuildSummary(manifest: manifest, output: output)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            let total = manifest.buildSeconds.values.reduce(0, +)
            let copies = Double(manifest.postingEntryCount) / Double(manifest.vectorCount)
            print(
                String(
                    format: "built %@: %d vectors, %d centroids, %.2f copies per vector, %@ on disk, %.1f s",
                    output,
                    manifest.vectorCount,
                    manifest.centroidCount,
                    copies,
                    formatBytes(manifest.files.reduce(0) { $0 + $1.bytes }),
                    total
                )
            )
            if manifest.skippedRows > 0 { print("skipped \(manifest.skippedRows) rows with NaN or infinity") }
        }
    }
}

struct BuildSummary: Encodable {
    var output: String
    var vectors: Int
    var centroids: Int
    var copiesPerVector: Double
    var skippedRows: Int
    var secondsPerPhase: [String: Double]
    var bytesPerFile: [String: Int64]
    var peakResidentBytes: Int

    init(manifest: IndexManifest, output: String) {
        self.output = output
        vectors = manifest.vectorCount
        centroids = manifest.centroidCount
        copiesPerVector = Double(manifest.postingEntryCount) / Double(manifest.vectorCount)
        skippedRows = manifest.skippedRows
        secondsPerPhase = manifest.buildSeconds
        bytesPerFile = Dictionary(uniqueKeysWithValues: manifest.files.map { ($0.name, $0.bytes) })
        peakResidentBytes = ResourceUsage.peakResidentBytes
    }
}

/// One line per phase on a terminal — percentage, rate and ETA, redrawn at most 5× a second —
/// and silence otherwise (pipes, CI logs).
final class ProgressReporter: Sendable {
    let enabled: Bool
    private let state = NIOLockedValueBox<(phase: String, started: ContinuousClock.Instant, lastPrint: ContinuousClock.Instant)>(("", .now, .now))

    init(enabled: Bool) { self.enabled = enabled }

    var report: IndexBuilder.Progress {
        { [self] phase, done, total in
            guard enabled else { return }
            state.withLockedValue { s in
                let now = ContinuousClock.now
                if s.phase != phase {
                    if !s.phase.isEmpty { Self.write("\r\(s.phase): done in \(String(format: "%.1f", (now - s.started).seconds)) s\u{1B}[K\n") }
                    s = (phase, now, now)
                }
                guard now - s.lastPrint > .milliseconds(200) else { return }
                s.lastPrint = now
                let elapsed = (now - s.started).seconds
                let fraction = total > 0 ? Double(done) / Double(total) : 0
                let rate = elapsed > 0 ? Double(done) / elapsed : 0
                let eta = fraction > 0.01 ? String(format: ", ETA %.0f s", elapsed / fraction - elapsed) : ""
                Self.write(String(format: "\r%@: %3.0f%% (%d/%d, %.0f/s%@)\u{1B}[K", phase, fraction * 100, done, total, rate, eta))
            }
        }
    }

    func done() {
        guard enabled else { return }
        state.withLockedValue { s in
            Self.write("\r\(s.phase): done in \(String(format: "%.1f", (ContinuousClock.now - s.started).seconds)) s\u{1B}[K\n")
        }
    }

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Memory of this process: its peak (getrusage) and its resident set now (/proc on Linux).
enum ResourceUsage {
    /// Resident memory now (VmRSS, from /proc/self/statm); 0 where /proc is missing.
    static var residentBytes: Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static var peakResidentBytes: Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int(usage.ru_maxrss) * 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)
        #endif
    }
}

/// Reads user ids: a text file (one per line), or a one-column .ivecs/.ibin/.npy (int32, or
/// int64/uint64 in .npy).
enum IDFile {
    static func read(_ path: String) throws -> [UInt64] {
        if let format = VectorFileFormat(path: path), [.ivecs, .ibin, .npy].contains(format) {
            return try VectorFile(path: path).readIDs()
        }
        return try readLines(path).enumerated().compactMap { line, text in
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return nil }
            guard let id = UInt64(trimmed) else { throw BuildError("\(path):\(line + 1): '\(trimmed)' is not an unsigned 64-bit id") }
            return id
        }
    }
}
