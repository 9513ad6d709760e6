@_spi(Engine) public import SwannCore
public import SwannStorage
import Synchronization

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// An opened SPANN index: centroids and their graph in memory, posting lists on disk.
///
/// Immutable and `Sendable`: share one instance across tasks and threads. Each search takes
/// its scratch memory (visited sets, read buffer, candidate and list arrays, top-k heap) from a
/// small pool, so concurrent searches never contend on anything but that pool's lock, a warm
/// query allocates nothing (`search(_:k:parameters:into:)`), and per-call `SearchParameters`
/// never touch shared state.
///
/// ```swift
/// let index = try Index.open(at: "wiki.swann")
/// let hits = try index.search(queryVector, k: 10)      // [Neighbor], nearest first
/// ```
public final class Index: Sendable {
    /// The directory the index was opened from.
    public let path: String
    /// What the index holds and how it was built.
    public let manifest: IndexManifest
    /// Search parameters used when a call passes none.
    public let defaultParameters: SearchParameters
    let header: IndexHeader
    /// The centroids widened to float32: the graph search runs on the fastest kernel whatever
    /// the stored type (float16 conversion without F16C costs ~4× per distance).
    let centroids: VectorMatrix
    /// Int8 copies of the centroids that the graph walk measures with (see `QuantizedRows`);
    /// its candidates are re-ranked with `centroids`.
    let navigation: QuantizedRows
    let store: any PostingStore
    /// The exact rows for re-ranking, when the postings hold int8 or RaBitQ codes.
    let exactRows: ExactRowStore?
    /// ‖c‖² of every centroid, for RaBitQ on inner product (the query's distance from a list
    /// comes from ⟨q, c⟩); empty otherwise.
    let centroidSquaredNorms: [Float]
    let scratchPool: NIOLockedValueBox<[SearchScratch]>
    /// Lists whose checksum has been verified (for `ChecksumPolicy.firstRead`).
    let verified: VerifiedLists

    /// How posting lists are read.
    public enum IOMode: String, Sendable, Hashable, CaseIterable {
        /// `pread` into a reusable page-aligned buffer, through the page cache (default).
        case pread
        /// A read-only memory map: the page cache without a copy (~15% faster warm queries),
        /// but every list touched stays mapped and counts in the process's resident memory:
        /// serving minilm-100k this way showed 1 GB RSS instead of ~70 MB. The exact rows of an
        /// int8 or RaBitQ index are mapped too, which saves a system call per re-ranked row.
        case mmap
        /// `pread` with O_DIRECT: no page cache, every list comes from the device (cold path).
        case direct
        /// The whole posting file loaded into memory at open (small indexes, tests).
        case memory
    }

    /// Options for opening an index.
    public struct OpenOptions: Sendable, Hashable {
        /// How posting lists are read.
        public var io: IOMode
        /// Options reading postings with `io`.
        public init(io: IOMode = .pread) { self.io = io }
        /// O_DIRECT reads (`io: .direct`).
        public init(directIO: Bool) { self.io = directIO ? .direct : .pread }
    }

    /// Opens the index directory at `path`, verifying everything it loads.
    /// - Throws: `IndexError` naming the file for a missing, truncated, corrupt or newer-format index.
    public static func open(at path: String, options: OpenOptions = OpenOptions()) throws(IndexError) -> Index {
        let header = try IndexReader.open(path)
        let store: any PostingStore =
            switch options.io {
            case .mmap: try MappedPostingStore(indexPath: path, header: header)
            case .pread: try FilePostingStore(indexPath: path, header: header, directIO: false)
            case .direct: try FilePostingStore(indexPath: path, header: header, directIO: true)
            case .memory: try InMemoryPostingStore(indexPath: path, header: header)
            }
        let exactRows =
            !header.manifest.hasExactRows
            ? nil : try ExactRowStore(indexPath: path, header: header, directIO: options.io == .direct, mapped: options.io == .mmap)
        return Index(path: path, header: header, store: store, exactRows: exactRows)
    }

    init(path: String, header: IndexHeader, store: any PostingStore, exactRows: ExactRowStore? = nil) {
        self.path = path
        self.header = header
        self.centroids = header.centroids.elementType == .float32 ? header.centroids : try! header.centroids.converted(to: .float32)
        self.navigation = QuantizedRows(centroids)
        self.manifest = header.manifest
        self.store = store
        self.exactRows = exactRows
        self.defaultParameters = header.manifest.searchDefaults
        self.scratchPool = NIOLockedValueBox([])
        self.verified = VerifiedLists(count: header.directory.count)
        let centroids = self.centroids
        self.centroidSquaredNorms =
            header.manifest.rabitq != nil && header.manifest.metric != .l2
            ? (0..<centroids.count).map { DotFloat32.dot(centroids.row($0), centroids.row($0), dimension: centroids.dimension) } : []
    }

    /// Number of vectors indexed.
    public var count: Int { manifest.vectorCount }
    /// Components per vector.
    public var dimension: Int { manifest.dimension }

    /// Entries in each posting list, by centroid.
    public var postingLengths: [Int] { header.directory.map(\.entryCount) }

    /// Size of the posting file on disk.
    public var postingFileBytes: Int { Int(manifest.file(IndexLayout.postings)?.bytes ?? 0) }

    /// Bytes this index holds in memory: centroids, graph, posting directory, id map.
    public var residentBytes: Int {
        centroids.byteCount + navigation.byteCount + header.centroidRows.count * 4 + header.graph.neighbors.count * 4
            + header.directory.count * MemoryLayout<PostingLocation>.stride + (header.idMap?.count ?? 0) * 8
    }

    /// The metric the kernels compute: inner product on normalised vectors stands in for cosine.
    var kernelMetric: Metric { manifest.normalized ? .innerProduct : manifest.metric }

    /// Candidates kept from the codes for exact re-ranking (indexes built with `--store int8`).
    /// On minilm-100k at 64 lists this keeps recall@10 equal to the float32 index's (0.94685).
    static func rerankDepth(k: Int) -> Int { max(4 * k, 40) }
    /// Most candidates kept from RaBitQ codes for exact re-ranking: those whose lower bound
    /// cannot enter the top k are dropped first, and re-ranking stops at the first whose lower
    /// bound is past the k-th exact distance, so this is a cap, not the usual count. It grows
    /// with the lists read: a flat 200 held recall@10 at 0.979 on minilm-100k from 256 lists on,
    /// where int8 codes reach 0.990.
    static func rabitqRerankDepth(k: Int, maxPostings: Int) -> Int { max(20 * k, 200, 4 * maxPostings) }
    /// Rows a RaBitQ re-rank reads per O_DIRECT batch: each batch is a round trip to the
    /// device, and the re-rank stops at most this many rows past where it could (~65 rows are
    /// ranked per query on minilm-100k at 64 lists).
    static let directRerankChunk = 32
    /// Beam entries (nearest by navigation code) whose centroid distance a RaBitQ index computes
    /// exactly: the lists it may read and a margin, not the whole beam (each is a float32 row
    /// read from memory at random).
    static func exactCentroidCount(maxPostings: Int) -> Int { maxPostings + maxPostings / 2 + 8 }
    /// Added to kernel distances to report the user's metric (cosine = 1 − dot).
    var reportedOffset: Float { manifest.normalized ? 1 : 0 }

    func takeScratch() -> SearchScratch {
        scratchPool.withLockedValue { $0.popLast() } ?? SearchScratch(header: header)
    }

    func returnScratch(_ scratch: SearchScratch) {
        scratchPool.withLockedValue { pool in if pool.count < 64 { pool.append(scratch) } }
    }
}

/// Per-search memory, reused across queries by one thread at a time: after the first queries
/// have grown its arrays, a query allocates nothing.
final class SearchScratch: @unchecked Sendable {
    var graph: GraphSearchScratch
    var seen: SeenSet
    let buffer = PostingBuffer()
    /// Re-ranking reads one exact row at a time into this.
    let rowBuffer = PostingBuffer(capacity: 2 * IndexLayout.pageSize)
    /// A re-read row's codes, to check it against the codes the postings hold.
    var rowCodes: VectorMatrix
    var query: VectorMatrix
    /// The query's int8 codes for the graph walk.
    var navigationQuery: VectorMatrix
    /// The query as normalised floats, before conversion to the stored type.
    var floats: [Float]
    /// A batch query widened from its matrix row (kept apart from `floats`, which `prepare` writes).
    var input: [Float]
    /// The centroid candidates of the graph walk, nearest first.
    var candidates: [(node: Int, distance: Float)] = []
    /// The posting lists the query reads.
    var lists: [Int] = []
    /// The nearest entries found in the postings (k, or the re-rank depth).
    var nearest = TopK(k: 1)
    /// The posting scan's best candidates, nearest first, before re-ranking.
    var rerankCandidates: [Neighbor] = []
    /// The answer, nearest first, in user ids and the user's metric.
    var neighbors: [Neighbor] = []
    /// The query rotated and quantised for RaBitQ postings.
    var rabitq = RaBitQQuery()
    /// A RaBitQ list's distance bounds, per entry.
    var lowerBounds: [Float] = []
    var upperBounds: [Float] = []
    /// The k smallest upper bounds seen (RaBitQ): an entry whose lower bound exceeds the k-th
    /// cannot be among the k nearest.
    var upper = TopK(k: 1)
    /// Exact distances of RaBitQ candidates read in one O_DIRECT batch, ranked in order after.
    var rerankDistances: [Float] = []

    init(header: IndexHeader) {
        graph = GraphSearchScratch(nodeCount: header.centroids.count)
        seen = SeenSet(capacity: header.manifest.vectorCount)
        query = try! VectorMatrix(elementType: header.manifest.elementType, count: 1, dimension: header.manifest.dimension)
        navigationQuery = try! VectorMatrix(elementType: .int8, count: 1, dimension: header.manifest.dimension)
        rowCodes = try! VectorMatrix(elementType: .int8, count: 1, dimension: header.manifest.dimension)
        floats = [Float](repeating: 0, count: header.manifest.dimension)
        input = floats
    }
}

/// A concurrent bitset of posting lists already verified.
final class VerifiedLists: @unchecked Sendable {  // only atomics are touched after init
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let wordCount: Int

    init(count: Int) {
        wordCount = (count + 63) / 64
        words = .allocate(capacity: max(1, wordCount))
        for i in 0..<max(1, wordCount) { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: max(1, wordCount))
        words.deallocate()
    }

    func contains(_ list: Int) -> Bool {
        words[list >> 6].load(ordering: .relaxed) & (1 << UInt64(list & 63)) != 0
    }

    func insert(_ list: Int) {
        words[list >> 6].bitwiseOr(1 << UInt64(list & 63), ordering: .relaxed)
    }
}
