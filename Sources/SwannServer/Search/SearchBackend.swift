public import Swann
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
    /// Inserts or replaces `points` (whole or not at all).
    func upsert(_ points: [Point], durability: Durability) async throws(ServiceError)
    /// Deletes `ids`; returns how many were present.
    func delete(_ ids: [UInt64], durability: Durability) async throws(ServiceError) -> Int
    /// The vector stored under `id`.
    /// - Throws: `ServiceError.Code.notFound` when there is none.
    func point(id: UInt64) async throws(ServiceError) -> Point
    /// Serves the index at `path` (nil: the one served now, reopened) in place of the current
    /// one without dropping a request; returns what is served now.
    func reload(path: String?) async throws(ServiceError) -> IndexInfo
    /// Folds every write into the index files and empties the log (docs/WRITES.md).
    func checkpoint() async throws(ServiceError)
    /// Pauses or resumes rebalancing (`LiveIndex.pauseRebalancing()`); returns where it
    /// stands now.
    func setRebalancing(paused: Bool) async throws(ServiceError) -> RebalanceStatus
    /// Brings gauges that change between requests (index size, rebalancing) up to date before
    /// `/metrics` is read.
    func refreshMetrics()
}

extension SearchBackend {
    /// Nothing to refresh.
    public func refreshMetrics() {}
}

/// Whether a backend can answer yet.
public enum Readiness: Sendable, Hashable {
    case loading
    case ready
    case failed(String)
}
