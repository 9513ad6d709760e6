import Foundation
import Hummingbird
package import Swann
import SwannProtocol

/// `PUT /v1/points`: `{"points": [{"id": 7, "vector": [...]}, ...]}` (Qdrant's spelling).
package struct UpsertBody: Decodable {
    package var points: [Point]

    package init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(allowed: ["points"], in: "the upsert request")
        guard let points = try c.decode([PointBody].self, "points") else {
            throw APIError.invalidJSON("\"points\" is required: an array of {\"id\": <unsigned integer>, \"vector\": [numbers]}")
        }
        self.points = points.map(\.point)
    }
}

/// One point of an upsert.
struct PointBody: Decodable {
    var point: Point

    init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(allowed: ["id", "vector"], in: "a point")
        guard let id = try c.decode(PointID.self, "id") else { throw APIError.invalidJSON("every point needs an \"id\"") }
        guard let vector = try c.decode([Float].self, "vector") else {
            throw APIError.invalidJSON("every point needs a \"vector\": an array of numbers")
        }
        point = Point(id: id.value, vector: vector)
    }
}

/// A point id: an unsigned 64-bit integer. Qdrant also takes UUID strings; Swann's ids are the
/// integers search results report, so a string is refused with that reason.
struct PointID: Decodable {
    var value: UInt64

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(UInt64.self) {
            self.value = value
            return
        }
        if let text = try? container.decode(String.self) {
            throw APIError.invalidJSON("point ids are unsigned 64-bit integers, not strings (got \"\(text.prefix(40))\")")
        }
        throw APIError.invalidJSON("point ids are unsigned 64-bit integers (0...\(UInt64.max))")
    }
}

/// `POST /v1/points/delete`: `{"points": [7, 8]}`.
package struct DeleteBody: Decodable {
    package var ids: [UInt64]

    package init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(allowed: ["points"], in: "the delete request")
        guard let ids = try c.decode([PointID].self, "points") else {
            throw APIError.invalidJSON("\"points\" is required: an array of point ids")
        }
        self.ids = ids.map(\.value)
    }
}

/// The answer to a write.
struct WriteResponseJSON: Encodable {
    /// "completed" (durable and visible: `wait=true`) or "acknowledged" (visible, logged in
    /// memory: `wait=false`).
    var status: String
    /// Points upserted, or ids that were present and are now deleted.
    var count: Int
    var tookMs: Double

    enum CodingKeys: String, CodingKey {
        case status, count
        case tookMs = "took_ms"
    }

    init(durability: Durability, count: Int, tookMs: Double) {
        status = durability == .durable ? "completed" : "acknowledged"
        self.count = count
        self.tookMs = tookMs
    }
}

/// `GET /v1/points/{id}`.
struct PointJSON: Encodable {
    var id: UInt64
    var vector: [Float]
}

extension Request {
    /// The `wait` query parameter: true (default) waits for the write to be durable.
    func durability() throws -> Durability {
        guard let value = uri.queryParameters.get("wait") else { return .durable }
        switch value.lowercased() {
        case "true", "1": return .durable
        case "false", "0": return .buffered
        default: throw APIError(.badRequest, code: "invalid_request", "wait must be true or false, got \"\(value.prefix(40))\"")
        }
    }
}

/// `POST /v1/admin/reload`: `{"path": "/indexes/wiki-2"}`, or no body for the directory served now.
struct ReloadBody: Decodable {
    var path: String?

    init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(allowed: ["path"], in: "the reload request")
        path = try c.decode(String.self, "path")
    }
}

/// The answer to a reload: what is served now.
struct ReloadResponseJSON: Encodable {
    var status: String
    var index: IndexInfo
    var tookMs: Double

    private enum CodingKeys: String, CodingKey {
        case status, index
        case tookMs = "took_ms"
    }
}

/// The answer to `POST /v1/admin/checkpoint`.
struct CheckpointResponseJSON: Encodable {
    var status: String
    var tookMs: Double

    private enum CodingKeys: String, CodingKey {
        case status
        case tookMs = "took_ms"
    }
}

/// `POST /v1/admin/rebalance`: `{"paused": true}` pauses rebalancing, `{"paused": false}`
/// resumes it.
struct RebalanceBody: Decodable {
    var paused: Bool

    init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(allowed: ["paused"], in: "the rebalance request")
        guard let paused = try c.decode(Bool.self, "paused") else {
            throw APIError.invalidJSON("\"paused\" is required: true or false")
        }
        self.paused = paused
    }
}

/// The answer to `POST /v1/admin/rebalance`: where rebalancing stands now.
struct RebalanceResponseJSON: Encodable {
    var paused: Bool
    var running: Bool
    var oversizedLists: Int
    var deadVectors: Int
    var centroidDeficit: Int
    var due: String?

    init(_ status: RebalanceStatus) {
        paused = status.isPaused
        running = status.isRunning
        oversizedLists = status.oversizedLists
        deadVectors = status.deadVectors
        centroidDeficit = status.centroidDeficit
        due = status.due?.rawValue
    }

    private enum CodingKeys: String, CodingKey {
        case paused, running, due
        case oversizedLists = "oversized_lists"
        case deadVectors = "dead_vectors"
        case centroidDeficit = "centroid_deficit"
    }
}
