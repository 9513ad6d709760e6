public import SwannCore

/// What a server serves: `GET /v1/index` and the TCP `info` frame (the same snake_case JSON),
/// shared by the server, the client and the router. A router answers with the sum over its
/// shards and lists them in `shards`.
public struct IndexInfo: Sendable, Codable, Equatable {
    /// Components per vector.
    public var dimension: Int
    /// The distance the index ranks by.
    public var metric: Metric
    /// How the postings store components.
    public var elementType: ElementType
    /// Vectors indexed.
    public var vectorCount: Int
    /// Posting lists (one per centroid).
    public var centroidCount: Int
    /// Entries over all posting lists (vectors counted once per replica).
    public var postingEntryCount: Int
    /// `postingEntryCount / vectorCount`: the average number of lists a vector is in.
    public var copiesPerVector: Double
    /// Which shard of a collection this is (0 of 1 when unsharded or behind a router).
    public var shard: ShardPosition
    /// Whether results carry the user's ids rather than row numbers.
    public var hasIDMap: Bool
    /// Bytes the server holds in memory for the index.
    public var residentBytes: Int
    /// Size of the posting file(s) on disk.
    public var postingFileBytes: Int
    /// The index format version.
    public var formatVersion: Int
    /// The Swann version that built the index.
    public var writer: String
    /// The build's parameters.
    public var build: BuildConfiguration
    /// The search parameters a request gets when it overrides none.
    public var searchDefaults: SearchParameters
    /// The shard servers behind a router (nil for a single index).
    public var shards: [String]?

    /// Every field, as the server reports it.
    public init(
        dimension: Int,
        metric: Metric,
        elementType: ElementType,
        vectorCount: Int,
        centroidCount: Int,
        postingEntryCount: Int,
        shard: ShardPosition,
        hasIDMap: Bool,
        residentBytes: Int,
        postingFileBytes: Int,
        formatVersion: Int,
        writer: String,
        build: BuildConfiguration,
        searchDefaults: SearchParameters
    ) {
        self.dimension = dimension
        self.metric = metric
        self.elementType = elementType
        self.vectorCount = vectorCount
        self.centroidCount = centroidCount
        self.postingEntryCount = postingEntryCount
        self.copiesPerVector = vectorCount == 0 ? 0 : Double(postingEntryCount) / Double(vectorCount)
        self.shard = shard
        self.hasIDMap = hasIDMap
        self.residentBytes = residentBytes
        self.postingFileBytes = postingFileBytes
        self.formatVersion = formatVersion
        self.writer = writer
        self.build = build
        self.searchDefaults = searchDefaults
    }

    /// The description of several shards served together: counts and sizes summed, the rest
    /// from the first shard.
    /// - Precondition: `shards` is not empty.
    public static func combining(_ shards: [IndexInfo], endpoints: [String]) -> IndexInfo {
        var combined = shards[0]
        combined.vectorCount = shards.map(\.vectorCount).reduce(0, +)
        combined.centroidCount = shards.map(\.centroidCount).reduce(0, +)
        combined.postingEntryCount = shards.map(\.postingEntryCount).reduce(0, +)
        combined.copiesPerVector = combined.vectorCount == 0 ? 0 : Double(combined.postingEntryCount) / Double(combined.vectorCount)
        combined.residentBytes = shards.map(\.residentBytes).reduce(0, +)
        combined.postingFileBytes = shards.map(\.postingFileBytes).reduce(0, +)
        combined.hasIDMap = shards.contains { $0.hasIDMap }
        combined.shard = ShardPosition(index: 0, count: 1)
        combined.shards = endpoints
        return combined
    }

    enum CodingKeys: String, CodingKey {
        case dimension, metric
        case elementType = "element_type"
        case vectorCount = "vector_count"
        case centroidCount = "centroid_count"
        case postingEntryCount = "posting_entry_count"
        case copiesPerVector = "copies_per_vector"
        case shard
        case hasIDMap = "has_id_map"
        case residentBytes = "resident_bytes"
        case postingFileBytes = "posting_file_bytes"
        case formatVersion = "format_version"
        case writer
        case build
        case searchDefaults = "search_defaults"
        case shards
    }
}
