import Hummingbird
import Swann
package import SwannProtocol

/// A key of any name, to list what a JSON object actually contains.
struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// The object's keys after refusing any not in `allowed`: a misspelt field ("max_posting")
    /// would otherwise be ignored silently and the request answered with defaults.
    func strictContainer(allowed: [String], in object: String) throws -> KeyedDecodingContainer<JSONKey> {
        let container = try container(keyedBy: JSONKey.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw APIError.invalidJSON(
                "unknown field \"\(key.stringValue)\" in \(object); known fields: \(allowed.joined(separator: ", "))"
            )
        }
        return container
    }
}

extension KeyedDecodingContainer<JSONKey> {
    /// The value under `name` or its alias (Qdrant's spelling), refusing both at once.
    func decode<T: Decodable>(_ type: T.Type, _ name: String, alias: String? = nil) throws -> T? {
        if let alias, contains(JSONKey(alias)) {
            guard !contains(JSONKey(name)) else { throw APIError.invalidJSON("give \"\(name)\" or \"\(alias)\", not both") }
            return try decode(T.self, forKey: JSONKey(alias))
        }
        return try decodeIfPresent(T.self, forKey: JSONKey(name))
    }
}

/// `params` of a search request: overrides of the index's search defaults.
/// `"max_distance_ratio": null` turns pruning off.
struct ParamsBody: Decodable {
    var overrides = SearchParameters.Overrides()

    init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(
            allowed: ["max_postings", "search_candidates", "max_distance_ratio", "target_recall"],
            in: "params"
        )
        overrides.maxPostings = try c.decode(Int.self, "max_postings")
        overrides.targetRecall = try c.decode(Double.self, "target_recall")
        overrides.searchCandidates = try c.decode(Int.self, "search_candidates")
        if c.contains(JSONKey("max_distance_ratio")) {
            if try c.decodeNil(forKey: JSONKey("max_distance_ratio")) {
                overrides.disablePruning = true
            } else {
                overrides.maxDistanceRatio = try c.decode(Float.self, forKey: JSONKey("max_distance_ratio"))
            }
        }
    }
}

/// `POST /v1/search`.
package struct SearchBody: Decodable {
    package var request: SearchRequest
    var withStats: Bool

    package init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(allowed: ["vector", "query", "k", "limit", "params", "with_stats"], in: "the search request")
        guard let vector = try c.decode([Float].self, "vector", alias: "query") else {
            throw APIError.invalidJSON("\"vector\" (or \"query\") is required: an array of numbers")
        }
        let k = try c.decode(Int.self, "k", alias: "limit") ?? 10
        let params = try c.decode(ParamsBody.self, "params")?.overrides ?? .init()
        request = SearchRequest(vector: vector, k: k, overrides: params)
        withStats = try c.decode(Bool.self, "with_stats") ?? false
    }
}

/// `POST /v1/search/batch`.
package struct BatchSearchBody: Decodable {
    package var request: BatchSearchRequest
    var withStats: Bool

    package init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(allowed: ["queries", "k", "limit", "params", "with_stats"], in: "the batch request")
        guard let queries = try c.decode([[Float]].self, "queries") else {
            throw APIError.invalidJSON("\"queries\" is required: an array of vectors")
        }
        let dimension = queries.first?.count ?? 0
        if let row = queries.firstIndex(where: { $0.count != dimension }) {
            throw APIError(
                .badRequest,
                code: ServiceError.Code.invalidRequest.rawValue,
                "queries[\(row)] has dimension \(queries[row].count), queries[0] has \(dimension)"
            )
        }
        let k = try c.decode(Int.self, "k", alias: "limit") ?? 10
        let params = try c.decode(ParamsBody.self, "params")?.overrides ?? .init()
        request = BatchSearchRequest(vectors: queries.flatMap { $0 }, dimension: dimension, k: k, overrides: params)
        withStats = try c.decode(Bool.self, "with_stats") ?? false
    }
}

struct HitJSON: Encodable {
    var id: Int64
    var distance: Float
}

struct StatsJSON: Encodable {
    var postingsRead: Int
    var bytesRead: Int
    var distancesComputed: Int
    var centroidMs: Double
    var ioMs: Double
    var scanMs: Double

    init(_ statistics: SearchStatistics) {
        postingsRead = statistics.postingsRead
        bytesRead = statistics.bytesRead
        distancesComputed = statistics.distancesComputed
        centroidMs = statistics.centroidSeconds * 1000
        ioMs = statistics.ioSeconds * 1000
        scanMs = statistics.scanSeconds * 1000
    }

    enum CodingKeys: String, CodingKey {
        case postingsRead = "postings_read"
        case bytesRead = "bytes_read"
        case distancesComputed = "distances_computed"
        case centroidMs = "centroid_ms"
        case ioMs = "io_ms"
        case scanMs = "scan_ms"
    }
}

struct SearchResponseJSON: Encodable {
    var results: [HitJSON]
    var tookMs: Double
    var stats: StatsJSON?
    /// Present (true) only when a router answered without some shards.
    var partial: Bool?

    enum CodingKeys: String, CodingKey {
        case results
        case tookMs = "took_ms"
        case stats, partial
    }
}

struct BatchSearchResponseJSON: Encodable {
    var results: [[HitJSON]]
    var tookMs: Double
    var stats: [StatsJSON]?
    var partial: Bool?

    enum CodingKeys: String, CodingKey {
        case results
        case tookMs = "took_ms"
        case stats, partial
    }
}
