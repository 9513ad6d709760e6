import Foundation
public import SwannCore
public import SwannStorage
import Synchronization

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
        /// Store postings in this element type (nil: as the input). Float input may be narrowed:
        /// float32 to float16, which halves the bytes read per query, or either to int8 codes
        /// (`SymmetricQuantizer`, a quarter of the bytes), with the exact float32 rows kept once
        /// in `vectors.bin` so that each query's best candidates are re-ranked exactly.
        public var storeAs: ElementType?
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
        /// The defaults (docs/PARAMETERS.md).
        public init() {}
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
        var seconds: [String: Double] = [:]
        let clock = ContinuousClock()
        var phaseStart = clock.now
        func finish(_ phase: String) {
            seconds[phase] = (clock.now - phaseStart).seconds
            phaseStart = clock.now
        }

        progress?("read", 0, input.count)
        var (vectors, rows) = try readRows(input)
        finish("read")
        let skipped = input.count / options.shard.count + (input.count % options.shard.count > options.shard.index ? 1 : 0) - rows.count
        let centroidTarget = Int((Double(rows.count) * options.configuration.heads.centroidRatio).rounded())
        guard rows.count >= 2, centroidTarget >= 1 else {
            throw BuildError(
                "\(input.path): \(rows.count) usable vectors are too few to build an index (need at least 2, and centroid ratio × count ≥ 1)"
            )
        }
        let normalized = options.metric == .cosine && !vectors.elementType.isInteger
        let working = try workingCopy(&vectors, normalize: normalized)
        let quantizer = options.storeAs == .int8 && !vectors.elementType.isInteger ? SymmetricQuantizer(fittedTo: working) : nil
        let stored = try quantizer.map { $0.encode(working) } ?? storedCopy(vectors: vectors, working: working)

        progress?("cluster", 0, centroidTarget)
        let heads = HeadSelection.selectHeads(
            in: working,
            configuration: options.configuration.heads,
            threads: options.threads,
            progress: { done in progress?("cluster", done, centroidTarget) }
        )
        finish("cluster")
        // Exact float32 centroids when the postings hold codes (the centroid search stays exact).
        let centroidSource = quantizer == nil ? stored : working
        let centroids = try VectorMatrix(elementType: centroidSource.elementType, count: heads.count, dimension: stored.dimension)
        for (i, row) in heads.enumerated() {
            (centroids.mutableRawBytes.baseAddress! + i * centroids.rowBytes).copyMemory(
                from: centroidSource.row(row),
                byteCount: centroidSource.rowBytes
            )
        }

        // Graph and assignment run on the float32 working rows: the fastest kernel, and the
        // same geometry the stored rows have (up to float16 rounding).
        let workingCentroids = try VectorMatrix(elementType: .float32, count: heads.count, dimension: working.dimension)
        for (i, row) in heads.enumerated() {
            (workingCentroids.mutableRawBytes.baseAddress! + i * workingCentroids.rowBytes).copyMemory(
                from: working.row(row),
                byteCount: working.rowBytes
            )
        }
        progress?("graph", 0, heads.count)
        let graph = CentroidGraph.build(
            centroids: workingCentroids,
            configuration: options.configuration.graph,
            kernel: L2Float32.self,
            threads: options.threads,
            progress: { done in progress?("graph", done, heads.count) }
        )
        finish("graph")

        progress?("assign", 0, working.count)
        let assignment = Assign(
            vectors: working,
            centroids: workingCentroids,
            centroidRows: heads,
            graph: graph,
            configuration: options.configuration.assignment,
            threads: options.threads,
            progress: progress
        ).run(L2Float32.self)
        finish("assign")

        var manifest = IndexManifest()
        manifest.writer = "swann \(SwannVersion.current)"
        manifest.metric = options.metric
        manifest.elementType = stored.elementType
        manifest.inputElementType = input.layout.scalar.elementType ?? .float32
        manifest.normalized = normalized
        manifest.dimension = stored.dimension
        manifest.vectorCount = stored.count
        manifest.centroidCount = centroids.count
        manifest.postingEntryCount = assignment.lists.reduce(0) { $0 + $1.count }
        manifest.copyHistogram = assignment.copyHistogram
        manifest.replicasDroppedByLimit = assignment.droppedByLimit
        manifest.skippedRows = skipped
        manifest.shard = options.shard
        manifest.build = options.configuration
        manifest.searchDefaults = options.searchDefaults
        if let quantizer {
            manifest.quantization = quantizer
            manifest.formatVersion = IndexManifest.quantizedFormatVersion
        }
        let idMap = try idMap(rows: rows)
        manifest.hasIDMap = idMap != nil

        progress?("write", 0, 1)
        manifest.buildSeconds = seconds
        var written = try IndexWriter.write(
            IndexContents(
                manifest: manifest,
                centroidRows: heads.map(UInt32.init),
                centroids: centroids,
                graph: graph,
                lists: assignment.lists,
                vectors: stored,
                idMap: idMap,
                exactRows: quantizer == nil ? nil : working
            ),
            to: output,
            overwrite: options.overwrite
        )
        finish("write")
        written.buildSeconds = seconds
        return written
    }

    /// Bytes the build will hold at its peak, estimated from the input: the vectors as read,
    /// a float32 working copy when the input is not float32 (or is narrowed for storage), and
    /// the assignment tables (~72 bytes per vector with 8 replicas), plus headroom.
    public func estimatedPeakBytes(for input: VectorFile) -> Int {
        let payload = input.layout.payloadBytes / options.shard.count
        let widened = input.layout.scalar == .float32 ? 0 : payload * 4 / max(1, input.layout.scalar.byteWidth)
        let narrowed = options.storeAs.map { payload / 4 * $0.byteWidth } ?? 0
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
        if let store = options.storeAs, store != inputType, !(inputType == .float32 && store == .float16),
            !(store == .int8 && !inputType.isInteger)
        {
            throw BuildError(
                "--store \(store) needs \(store == .int8 ? "float32 or float16" : "float32") input; \(input.path) holds \(inputType) (stored as given)"
            )
        }
        if options.metric == .cosine, inputType.isInteger {
            // Allowed: 8-bit vectors are compared with the cosine kernel instead of being normalised.
        }
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

    /// Reads this shard's rows and drops or refuses rows with NaN/∞.
    /// - Returns: the vectors and, for each, its row number in the input file.
    func readRows(_ input: VectorFile) throws -> (VectorMatrix, [Int]) {
        let all = try input.readVectors()
        var keep: [Int] = []
        keep.reserveCapacity(all.count / options.shard.count + 1)
        var invalid: [Int] = []
        for row in stride(from: options.shard.index, to: all.count, by: options.shard.count) {
            if RowValidation.isFinite(all.row(row), elementType: all.elementType, count: all.dimension) {
                keep.append(row)
            } else if options.skipInvalid {
                invalid.append(row)
            } else {
                throw BuildError("\(input.path): row \(row) contains NaN or infinity (use --skip-invalid to drop such rows)")
            }
        }
        if keep.count == all.count { return (all, keep) }
        let kept = try VectorMatrix(elementType: all.elementType, count: keep.count, dimension: all.dimension)
        for (i, row) in keep.enumerated() {
            (kept.mutableRawBytes.baseAddress! + i * kept.rowBytes).copyMemory(from: all.row(row), byteCount: all.rowBytes)
        }
        return (kept, keep)
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
        let target = options.storeAs ?? vectors.elementType
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

struct Assign: KernelConsumer {
    let vectors: VectorMatrix
    let centroids: VectorMatrix
    let centroidRows: [Int]
    let graph: CentroidGraph
    let configuration: PostingAssignment.Configuration
    let threads: Int
    let progress: IndexBuilder.Progress?
    func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> PostingAssignment {
        let total = vectors.count
        let done = Counter()
        var perBlock: (@Sendable (Int) -> Void)?
        if let report = progress {
            perBlock = { n in report("assign", done.add(n), total) }
        }
        return PostingAssignment.assign(
            vectors: vectors,
            centroids: centroids,
            graph: graph,
            configuration: configuration,
            kernel: Kernel.self,
            threads: threads,
            centroidRows: centroidRows,
            progress: perBlock
        )
    }
}

/// A thread-safe running total.
final class Counter: Sendable {
    private let value = Mutex(0)
    func add(_ n: Int) -> Int {
        value.withLock {
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
