import Foundation
@_spi(Engine) public import SwannCore
public import SwannStorage

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// Builds a SPANN index from a vector file (`swann build`).
///
/// Phases: read and validate → hierarchical balanced clustering picks the centroids (real rows)
/// → centroid graph → closure + RNG assignment of every vector to posting lists → crash-safe
/// write. See docs/PARAMETERS.md for the knobs and docs/FORMAT.md for the result.
public struct IndexBuilder: Sendable {
    /// What to build and how.
    public struct Options: Sendable {
        /// The distance to index for.
        public var metric: Metric = .l2
        /// What each posting entry holds (default: RaBitQ codes for float input).
        public var postings: PostingEncoding = .automatic
        /// Clustering, graph and assignment knobs (docs/PARAMETERS.md).
        public var configuration = BuildConfiguration()
        /// Search defaults recorded in the manifest.
        public var searchDefaults = SearchParameters()
        /// Drop NaN/∞ rows (and report them) instead of refusing the input.
        public var skipInvalid = false
        /// Replace an existing index at the output path.
        public var overwrite = false
        /// Build threads (default: every core).
        public var threads = Parallel.coreCount
        /// User ids, one per input row (before any rows are skipped).
        public var ids: [UInt64]?
        /// Build only shard `index` of `count` (rows with row number % count == index).
        public var shard = IndexManifest.Shard(index: 0, count: 1)
        /// Vectors of the input searched, each without itself, against their exact neighbours to
        /// measure recall against the list budget (`IndexManifest.recallCalibration`, what
        /// `targetRecall` looks up); 0 skips it.
        public var calibrationQueries = 400
        /// The defaults (docs/PARAMETERS.md).
        public init() {}
    }

    /// What each posting entry holds (`swann build --store`).
    public enum PostingEncoding: Sendable, Hashable {
        /// RaBitQ codes for float input, the input's own rows for 8-bit input. RaBitQ is the
        /// fastest store at recall@10 0.95 with 0.99 still reachable (docs/BENCHMARKS.md).
        case automatic
        /// Rows of this element type (nil: the input's). Float input may be narrowed: float32
        /// to float16, which halves the bytes read per query, or either to int8 codes
        /// (`SymmetricQuantizer`, a quarter of the bytes), with the exact float32 rows kept once
        /// in `vectors.bin` so that each query's best candidates are re-ranked exactly.
        case rows(ElementType?)
        /// RaBitQ codes (float input): one bit per dimension of each entry's residual to its
        /// centroid plus 12 bytes, scanned with an error bound; the exact float32 rows are kept
        /// once in `vectors.bin` for re-ranking (docs/FORMAT.md).
        case rabitq

        /// Whether input of `inputType` gets RaBitQ codes.
        func isRaBitQ(for inputType: ElementType) -> Bool {
            switch self {
            case .automatic: !inputType.isInteger
            case .rows: false
            case .rabitq: true
            }
        }

        /// The row type asked for, when rows are.
        var rowType: ElementType? {
            if case .rows(let type) = self { type } else { nil }
        }
    }

    /// Reports progress: a phase name and how many of its `total` items are done.
    public typealias Progress = @Sendable (_ phase: String, _ done: Int, _ total: Int) -> Void

    /// What this builder builds.
    public let options: Options
    /// A builder with `options`.
    public init(options: Options) { self.options = options }

    /// Builds the index for `input` at `output`.
    /// - Returns: the manifest written (with per-phase times in `buildSeconds`).
    /// - Throws: `BuildError` for bad input or options, `IndexError`/`VectorFileError` for I/O.
    public func build(from input: VectorFile, to output: String, progress: Progress? = nil) throws -> IndexManifest {
        try IndexWriter.checkDestination(output, overwrite: options.overwrite)
        try validateOptions(input)
        var phases = PhaseTimer(progress: progress)

        phases.start("read", total: input.count)
        let rows = try prepareRows(input)
        phases.start("cluster", total: rows.centroidTarget)
        let heads = HeadSelection.selectHeads(
            in: rows.working,
            configuration: options.configuration.heads,
            threads: options.threads,
            progress: { done in progress?("cluster", done, rows.centroidTarget) }
        )
        let centroids = try Centroids(heads: heads, rows: rows)
        phases.start("graph", total: heads.count)
        let graph = CentroidGraph.build(
            centroids: centroids.working,
            configuration: options.configuration.graph,
            kernel: L2Float32.self,
            threads: options.threads,
            progress: { done in progress?("graph", done, heads.count) }
        )
        phases.start("assign", total: rows.working.count)
        let assignment = assign(
            rows.working,
            to: PostingAssignment.CentroidSet(centroids: centroids.working, graph: graph, rows: heads),
            progress: progress
        )
        phases.start("write", total: 1)
        var manifest = self.manifest(input: input, rows: rows, centroidCount: heads.count, assignment: assignment)
        let idMap = try idMap(rows: rows.inputRows)
        manifest.hasIDMap = idMap != nil
        manifest.buildSeconds = phases.seconds
        var staged = try IndexWriter.stage(
            IndexContents(
                manifest: manifest,
                centroidRows: heads.map(UInt32.init),
                centroids: centroids.stored,
                graph: graph,
                lists: assignment.lists,
                vectors: rows.stored,
                idMap: idMap,
                exactRows: rows.quantizer == nil && rows.codec == nil ? nil : rows.working
            ),
            for: output,
            overwrite: options.overwrite
        )
        do {
            if options.calibrationQueries > 0 {
                phases.start("calibrate", total: 1)
                var calibrated = staged.manifest
                calibrated.recallCalibration = try RecallCalibrator(
                    queries: options.calibrationQueries,
                    seed: options.configuration.heads.seed,
                    threads: options.threads
                ).calibrate(
                    Index.open(at: staged.directory),
                    rows: rows.working,
                    metric: rows.normalized ? .l2 : options.metric,
                    userIDs: idMap
                )
                calibrated.buildSeconds = phases.seconds
                try IndexWriter.rewriteManifest(of: &staged, with: calibrated)
            }
            try IndexWriter.publish(staged)
        } catch {
            staged.discard()
            throw error
        }
        phases.finish()
        var written = staged.manifest
        written.buildSeconds = phases.seconds
        return written
    }

    /// The input's rows in every form the build needs.
    struct PreparedRows {
        /// Row number in the input file of each kept row.
        var inputRows: [Int]
        /// Input rows skipped as NaN/∞.
        var skipped: Int
        /// Float32 rows (normalised for cosine) that clustering, graph and assignment run on.
        var working: VectorMatrix
        /// The rows as the postings store them.
        var stored: VectorMatrix
        /// The int8 quantiser when the postings hold int8 codes.
        var quantizer: SymmetricQuantizer?
        /// The RaBitQ codec when the postings hold RaBitQ codes (`stored` is then `working`).
        var codec: RaBitQCodec?
        var normalized: Bool
        var centroidTarget: Int
    }

    /// Reads, validates, normalises and converts the rows.
    func prepareRows(_ input: VectorFile) throws -> PreparedRows {
        var (vectors, rows, shardRows) = try readRows(input)
        let centroidTarget = Int((Double(rows.count) * options.configuration.heads.centroidRatio).rounded())
        guard rows.count >= 2, centroidTarget >= 1 else {
            throw BuildError(
                "\(input.path): \(rows.count) usable vectors are too few to build an index (need at least 2, and centroid ratio × count ≥ 1)"
            )
        }
        let normalized = options.metric == .cosine && !vectors.elementType.isInteger
        let working = try workingCopy(&vectors, normalize: normalized)
        let codec =
            options.postings.isRaBitQ(for: vectors.elementType)
            ? RaBitQCodec(dimension: working.dimension, seed: options.configuration.heads.seed) : nil
        let quantizer =
            options.postings.rowType == .int8 && !vectors.elementType.isInteger ? SymmetricQuantizer(fittedTo: working) : nil
        let stored = try codec != nil ? working : quantizer.map { $0.encode(working) } ?? storedCopy(vectors: vectors, working: working)
        return PreparedRows(
            inputRows: rows,
            skipped: shardRows - rows.count,
            working: working,
            stored: stored,
            quantizer: quantizer,
            codec: codec,
            normalized: normalized,
            centroidTarget: centroidTarget
        )
    }

    /// The chosen heads' rows: as stored in the index, and as float32 for graph and assignment.
    struct Centroids {
        /// What `centroids.bin` holds: exact float32 when the postings hold codes (the centroid
        /// search stays exact), else the stored type.
        var stored: VectorMatrix
        /// Float32 rows: the fastest kernel, and the same geometry the stored rows have (up to
        /// float16 rounding).
        var working: VectorMatrix

        init(heads: [Int], rows: PreparedRows) throws {
            stored = try Self.gather(heads, from: rows.quantizer == nil ? rows.stored : rows.working)
            working = try Self.gather(heads, from: rows.working)
        }

        static func gather(_ heads: [Int], from source: VectorMatrix) throws -> VectorMatrix {
            let rows = try VectorMatrix(elementType: source.elementType, count: heads.count, dimension: source.dimension)
            for (i, row) in heads.enumerated() {
                (rows.mutableRawBytes.baseAddress! + i * rows.rowBytes).copyMemory(from: source.row(row), byteCount: source.rowBytes)
            }
            return rows
        }
    }

    /// Closure + RNG assignment of every working row, reporting progress per block.
    func assign(_ vectors: VectorMatrix, to centroids: PostingAssignment.CentroidSet, progress: Progress?) -> PostingAssignment {
        let total = vectors.count
        let done = Counter()
        var perBlock: (@Sendable (Int) -> Void)?
        if let progress { perBlock = { n in progress("assign", done.add(n), total) } }
        return PostingAssignment.assign(
            vectors,
            to: centroids,
            configuration: options.configuration.assignment,
            kernel: L2Float32.self,
            threads: options.threads,
            progress: perBlock
        )
    }

    /// The manifest of the index being built (the id map and times are added by `build`).
    func manifest(input: VectorFile, rows: PreparedRows, centroidCount: Int, assignment: PostingAssignment) -> IndexManifest {
        var manifest = IndexManifest()
        manifest.writer = "swann \(SwannVersion.current)"
        manifest.metric = options.metric
        manifest.elementType = rows.stored.elementType
        manifest.inputElementType = input.layout.scalar.elementType ?? .float32
        manifest.normalized = rows.normalized
        manifest.dimension = rows.stored.dimension
        manifest.vectorCount = rows.stored.count
        manifest.centroidCount = centroidCount
        manifest.postingEntryCount = assignment.lists.reduce(0) { $0 + $1.count }
        manifest.copyHistogram = assignment.copyHistogram
        manifest.replicasDroppedByLimit = assignment.droppedByLimit
        manifest.skippedRows = rows.skipped
        manifest.shard = options.shard
        manifest.build = options.configuration
        manifest.searchDefaults = options.searchDefaults
        if let quantizer = rows.quantizer {
            manifest.quantization = quantizer
            manifest.formatVersion = IndexManifest.quantizedFormatVersion
        }
        if let codec = rows.codec {
            manifest.rabitq = codec
            manifest.formatVersion = IndexManifest.rabitqFormatVersion
        }
        return manifest
    }

    /// Bytes the build will hold at its peak, estimated from the input: the vectors as read,
    /// a float32 working copy when the input is not float32 (or is narrowed for storage), and
    /// the assignment tables (~72 bytes per vector with 8 replicas), plus headroom.
    public func estimatedPeakBytes(for input: VectorFile) -> Int {
        let payload = input.layout.payloadBytes / options.shard.count
        let widened = input.layout.scalar == .float32 ? 0 : payload * 4 / max(1, input.layout.scalar.byteWidth)
        let narrowed = options.postings.rowType.map { payload / 4 * $0.byteWidth } ?? 0
        return payload + widened + narrowed + input.count / options.shard.count * 72 + (64 << 20)
    }

    func validateOptions(_ input: VectorFile) throws {
        // Refuse up front rather than be killed by the OOM killer half-way.
        if let available = MemoryInfo.availableBytes, estimatedPeakBytes(for: input) > available {
            throw BuildError(
                "\(input.path): building needs about \(estimatedPeakBytes(for: input) >> 20) MiB of memory, but only \(available >> 20) MiB is available; build shards (--shard i/N) or use a larger machine"
            )
        }
        do { try options.configuration.validate() } catch { throw BuildError(error.message) }
        do { try options.searchDefaults.validate() } catch { throw BuildError(error.message) }
        guard let inputType = input.layout.scalar.elementType else {
            throw BuildError("\(input.path): holds int32 ids, not vectors")
        }
        if options.postings == .rabitq, inputType.isInteger {
            throw BuildError("--store rabitq needs float32 or float16 input; \(input.path) holds \(inputType)")
        }
        if let store = options.postings.rowType, store != inputType, !(inputType == .float32 && store == .float16),
            !(store == .int8 && !inputType.isInteger)
        {
            throw BuildError(
                "--store \(store) needs \(store == .int8 ? "float32 or float16" : "float32") input; \(input.path) holds \(inputType) (stored as given)"
            )
        }
        // Cosine on 8-bit input is allowed: such vectors are compared with the cosine kernel
        // instead of being normalised.
        guard options.shard.count >= 1, (0..<options.shard.count).contains(options.shard.index) else {
            throw BuildError("shard \(options.shard.index)/\(options.shard.count) is invalid")
        }
        if let ids = options.ids {
            guard ids.count == input.count else {
                throw BuildError("the ids file has \(ids.count) ids but \(input.path) has \(input.count) vectors")
            }
            var seen = Set<UInt64>(minimumCapacity: ids.count)
            for (row, id) in ids.enumerated() where !seen.insert(id).inserted {
                throw BuildError("duplicate id \(id) (first repeated at row \(row))")
            }
        }
    }

    /// Reads this shard's rows (those whose id it owns, `ShardPosition.owner(of:shardCount:)`)
    /// and drops or refuses rows with NaN/∞.
    /// - Returns: the vectors, for each its row number in the input file, and how many rows the
    ///   shard owns (kept or skipped).
    func readRows(_ input: VectorFile) throws -> (VectorMatrix, [Int], owned: Int) {
        let all = try input.readVectors()
        var keep: [Int] = []
        keep.reserveCapacity(all.count / options.shard.count + 1)
        var invalid: [Int] = []
        var owned = 0
        for row in 0..<all.count where options.shard.owns(options.ids?[row] ?? UInt64(row)) {
            owned += 1
            if RowValidation.isFinite(all.row(row), elementType: all.elementType, count: all.dimension) {
                keep.append(row)
            } else if options.skipInvalid {
                invalid.append(row)
            } else {
                throw BuildError("\(input.path): row \(row) contains NaN or infinity (use --skip-invalid to drop such rows)")
            }
        }
        if keep.count == all.count { return (all, keep, owned) }
        let kept = try VectorMatrix(elementType: all.elementType, count: keep.count, dimension: all.dimension)
        for (i, row) in keep.enumerated() {
            (kept.mutableRawBytes.baseAddress! + i * kept.rowBytes).copyMemory(from: all.row(row), byteCount: all.rowBytes)
        }
        return (kept, keep, owned)
    }

    /// The float32 rows clustering runs on: the input itself when it is float32 (normalised in
    /// place for cosine), otherwise a widened copy.
    func workingCopy(_ vectors: inout VectorMatrix, normalize: Bool) throws -> VectorMatrix {
        let working = vectors.elementType == .float32 ? vectors : try vectors.converted(to: .float32)
        if normalize {
            let d = working.dimension
            let raw = working.mutableRawBytes.baseAddress!
            for i in 0..<working.count {
                let row = (raw + i * working.rowBytes).assumingMemoryBound(to: Float.self)
                var squares: Float = 0
                for j in 0..<d { squares += row[j] * row[j] }
                guard squares > 0 else { throw BuildError("row \(i) is a zero vector, which has no cosine distance") }
                let scale = 1 / squares.squareRoot()
                for j in 0..<d { row[j] *= scale }
            }
            if vectors.elementType != .float32 { vectors = try working.converted(to: vectors.elementType) }
        }
        return working
    }

    /// The rows as they will be stored in postings.
    func storedCopy(vectors: VectorMatrix, working: VectorMatrix) throws -> VectorMatrix {
        let target = options.postings.rowType ?? vectors.elementType
        if target == vectors.elementType { return vectors }
        return try working.converted(to: target)
    }

    /// The id map to store: the user's ids for the kept rows, or row numbers when rows were
    /// skipped or the index is a shard (so answers carry global ids); nil when ids are the rows.
    func idMap(rows: [Int]) throws -> [UInt64]? {
        if let ids = options.ids { return rows.map { ids[$0] } }
        let identity = rows.enumerated().allSatisfy { $0.offset == $0.element }
        return identity ? nil : rows.map { UInt64($0) }
    }
}

/// The input or options cannot produce an index.
public struct BuildError: Error, Hashable, CustomStringConvertible {
    /// What went wrong, for people.
    public var message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    /// A one-line description for logs and error messages.
    public var description: String { message }
}

/// Finite-value checks per element type.
enum RowValidation {
    static func isFinite(_ row: UnsafeRawPointer, elementType: ElementType, count: Int) -> Bool {
        switch elementType {
        case .float32:
            let p = row.assumingMemoryBound(to: UInt32.self)
            for i in 0..<count where p[i] & 0x7F80_0000 == 0x7F80_0000 { return false }
            return true
        case .float16:
            let p = row.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count where p[i] & 0x7C00 == 0x7C00 { return false }
            return true
        case .int8, .uint8:
            return true
        }
    }
}

/// Seconds per build phase, and the progress report that opens each.
struct PhaseTimer {
    let progress: IndexBuilder.Progress?
    private let clock = ContinuousClock()
    private var current: (name: String, started: ContinuousClock.Instant)?
    private(set) var seconds: [String: Double] = [:]

    init(progress: IndexBuilder.Progress?) { self.progress = progress }

    /// Ends the running phase and starts `name` (`total` items).
    mutating func start(_ name: String, total: Int) {
        finish()
        progress?(name, 0, total)
        current = (name, clock.now)
    }

    /// Ends the running phase.
    mutating func finish() {
        if let current { seconds[current.name] = (clock.now - current.started).seconds }
        current = nil
    }
}

/// A thread-safe running total.
final class Counter: Sendable {
    private let value = NIOLockedValueBox(0)
    func add(_ n: Int) -> Int {
        value.withLockedValue {
            $0 += n
            return $0
        }
    }
}

/// Memory the kernel says can be allocated without swapping (Linux `MemAvailable`).
enum MemoryInfo {
    static var availableBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kib = Int(parts[1]) { return kib * 1024 }
        }
        return nil
    }
}
