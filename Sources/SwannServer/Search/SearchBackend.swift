public import SwannProtocol

/// What the HTTP and TCP front ends serve: one local index (`SearchService`) or a fan-out over
/// shard servers (`ShardRouter`). The front ends only translate requests; everything a backend
/// answers, both speak.
public protocol SearchBackend: Sendable {
    var configuration: ServerConfiguration { get }
    var metrics: ServerMetrics { get }
    /// Whether searches can be answered now (`/readyz`).
    var readiness: Readiness { get }
    /// Answers one query.
    func search(_ request: SearchRequest) async throws(ServiceError) -> SearchResponse
    /// Answers every query of a batch, in order.
    func search(_ request: BatchSearchRequest) async throws(ServiceError) -> [SearchResponse]
    /// The description served by `GET /v1/index` and the TCP `info` frame.
    func indexInfo() throws(ServiceError) -> IndexInfo
}

/// Whether a backend can answer yet.
public enum Readiness: Sendable, Hashable {
    case loading
    case ready
    case failed(String)
}
