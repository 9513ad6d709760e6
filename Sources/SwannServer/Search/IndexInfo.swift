public import Swann

/// What a server serves: `GET /v1/index` and the TCP `info` frame, as snake_case JSON.
/// A router answers with the sum over its shards and lists them in `shards`.
public struct IndexInfo: Sendable, Codable, Equatable {
    public var dimension: Int
    public var metric: String
    public var elementType: String
    public var vectorCount: Int
    public var centroidCount: Int
    public var postingEntryCount: Int
    public var copiesPerVector: Double
    public var shard: IndexManifest.Shard
    public var hasIDMap: Bool
    public var residentBytes: Int
    public var postingFileBytes: Int
    public var formatVersion: Int
    public var writer: String
    public var build: BuildConfiguration
    public var searchDefaults: SearchParameters
    /// The shard servers behind a router (nil for a single index).
    public var shards: [String]?

    public init(_ index: Index) {
        let manifest = index.manifest
        dimension = manifest.dimension
        metric = manifest.metric.rawValue
        elementType = manifest.elementType.rawValue
        vectorCount = manifest.vectorCount
        centroidCount = manifest.centroidCount
        postingEntryCount = manifest.postingEntryCount
        copiesPerVector = manifest.vectorCount == 0 ? 0 : Double(manifest.postingEntryCount) / Double(manifest.vectorCount)
        shard = manifest.shard
        hasIDMap = manifest.hasIDMap
        residentBytes = index.residentBytes
        postingFileBytes = index.postingFileBytes
        formatVersion = manifest.formatVersion
        writer = manifest.writer
        build = manifest.build
        searchDefaults = manifest.searchDefaults
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
        combined.shard = IndexManifest.Shard(index: 0, count: 1)
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
