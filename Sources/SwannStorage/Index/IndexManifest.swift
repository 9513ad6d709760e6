import Foundation
@_spi(Engine) public import SwannCore

/// `manifest.json`: what an index holds and how it was built. Human-readable on purpose.
public struct IndexManifest: Sendable, Codable, Equatable {
    /// The on-disk format version; readers refuse any other.
    public var formatVersion = IndexManifest.currentFormatVersion
    /// The Swann version that wrote it.
    public var writer = ""
    /// The distance the index ranks by.
    public var metric = Metric.l2
    /// Element type of the stored vectors (postings and centroids).
    public var elementType = ElementType.float32
    /// Element type of the input file.
    public var inputElementType = ElementType.float32
    /// Whether vectors were normalised to unit length (cosine on float types).
    public var normalized = false
    /// Components per vector.
    public var dimension = 0
    /// Vectors indexed.
    public var vectorCount = 0
    /// Posting lists (one per centroid).
    public var centroidCount = 0
    /// Total entries over all posting lists (≥ vectorCount because of replicas).
    public var postingEntryCount = 0
    /// `copyHistogram[n]` = vectors stored in exactly n lists.
    public var copyHistogram: [Int] = []
    /// Replicas dropped by the posting-length cap.
    public var replicasDroppedByLimit = 0
    /// Input rows skipped as NaN/∞ (`--skip-invalid`).
    public var skippedRows = 0
    /// Whether results carry user ids (`--ids`) rather than row numbers.
    public var hasIDMap = false
    /// Shard `index` of `count` (0 of 1 when unsharded).
    public var shard = Shard(index: 0, count: 1)
    /// Every build parameter.
    public var build = BuildConfiguration()
    /// Default search parameters recorded at build time.
    public var searchDefaults = SearchParameters()
    /// What checkpoints' rebalancing has done since the build (splits, merges, moved vectors),
    /// summed; nil until a checkpoint rebalanced.
    public var rebalanced: RebalanceStatistics?
    /// Recall@10 against the list budget, measured by the build on a sample of its own vectors:
    /// what a search's `targetRecall` is looked up in. Nil for indexes built before it (or with
    /// `--calibration-queries 0`), which refuse `targetRecall`. A checkpoint keeps the build's.
    public var recallCalibration: RecallCalibration?
    /// Seconds spent per build phase.
    public var buildSeconds: [String: Double] = [:]
    /// Every other file of the index with its size and checksum.
    public var files: [FileEntry] = []
    /// Set when the postings hold int8 codes of float32 vectors (`--store int8`): the
    /// quantiser that made them. The exact rows are in `vectors.bin`, for re-ranking.
    package var quantization: SymmetricQuantizer?
    /// Set when the postings hold RaBitQ codes of float32 vectors (`--store rabitq`): the codec
    /// that made them (format version 3). The exact rows are in `vectors.bin`, for re-ranking;
    /// `elementType` is theirs (float32).
    package var rabitq: RaBitQCodec?

    /// Checksum (`Checksum.of`, 16 hex digits) of this manifest's canonical JSON: sorted keys,
    /// no whitespace, this field absent. Every field here can change answers (metric, id map,
    /// quantiser), so a manifest whose checksum does not match is refused at open. Absent only
    /// in indexes written before Swann 0.3, which open unverified.
    package var manifestChecksum: String?

    /// The checksum `manifestChecksum` must hold.
    package func computedChecksum() throws -> String {
        var copy = self
        copy.manifestChecksum = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array(try encoder.encode(copy))
        return FileChecksum.hex(bytes.withUnsafeBytes { Checksum.of($0) })
    }

    /// The format version of plain indexes, and of every binary section's header.
    public static let currentFormatVersion = 1
    /// The format version of an index whose postings hold codes (`quantization` set): older
    /// readers must refuse it rather than rank codes as if they were vectors.
    public static let quantizedFormatVersion = 2
    /// The format version of an index whose postings hold RaBitQ codes (`rabitq` set).
    public static let rabitqFormatVersion = 3
    /// The manifest versions this build reads.
    public static let readableFormatVersions = [currentFormatVersion, quantizedFormatVersion, rabitqFormatVersion]

    /// The defaults (docs/PARAMETERS.md).
    public init() {}

    /// Which part of a sharded collection the index holds (`ShardPosition`).
    public typealias Shard = ShardPosition

    /// A file of the index with its size and checksum.
    public struct FileEntry: Sendable, Codable, Equatable {
        /// The file name inside the index directory.
        public var name: String
        /// Its size.
        public var bytes: Int64
        /// `Checksum.of` the whole file, as 16 hex digits.
        public var checksum: String
        /// An entry for file `name`.
        public init(name: String, bytes: Int64, checksum: String) {
            self.name = name
            self.bytes = bytes
            self.checksum = checksum
        }
    }

    /// The element type of `centroids.bin`: exact float32 centroids when the postings hold
    /// codes, otherwise the stored type.
    public var centroidElementType: ElementType { quantization == nil ? elementType : .float32 }

    /// Whether `vectors.bin` holds the exact rows (the postings hold codes to re-rank from).
    public var hasExactRows: Bool { quantization != nil || rabitq != nil }

    /// Bytes of one posting entry after its id: a row in the stored type, or a RaBitQ code.
    public var postingRowBytes: Int { rabitq?.entryBytes ?? dimension * elementType.byteWidth }

    /// The entry for `name`, if listed.
    public func file(_ name: String) -> FileEntry? { files.first { $0.name == name } }
}
