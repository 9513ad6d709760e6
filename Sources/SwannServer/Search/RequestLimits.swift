import SwannProtocol
import Synchronization

/// The limits every search request is checked against, by a server's `SearchService` and a
/// `ShardRouter` alike: batch size, k, dimension, and admission (searches in flight).
final class RequestLimits: Sendable {
    let maxBatchQueries: Int
    let maxK: Int
    let maxWriteBatch: Int
    let maxPendingSearches: Int
    private let metrics: ServerMetrics
    private let pending = Atomic<Int>(0)

    init(_ configuration: ServerConfiguration, metrics: ServerMetrics) {
        maxBatchQueries = configuration.maxBatchQueries
        maxK = configuration.maxK
        maxWriteBatch = configuration.maxWriteBatch
        maxPendingSearches = configuration.maxPendingSearches
        self.metrics = metrics
    }

    /// Checks a batch's query count: at least one, at most `maxBatchQueries`.
    func check(batchOf queryCount: Int) throws(ServiceError) {
        guard queryCount <= maxBatchQueries else {
            throw ServiceError(.tooLarge, "a batch may hold at most \(maxBatchQueries) queries, got \(queryCount)")
        }
        guard queryCount > 0 else { throw ServiceError(.invalidRequest, "a batch needs at least one query") }
    }

    /// Checks the size of an upsert or delete.
    func check(writeOf count: Int) throws(ServiceError) {
        guard count <= maxWriteBatch else {
            throw ServiceError(.tooLarge, "a write may hold at most \(maxWriteBatch) points, got \(count)")
        }
        guard count > 0 else { throw ServiceError(.invalidRequest, "a write needs at least one point") }
    }

    /// Checks a query's dimension and k against the index (or the shards) described by `info`.
    func check(k: Int, dimension: Int, against info: (dimension: Int, vectorCount: Int)) throws(ServiceError) {
        guard dimension == info.dimension else {
            throw ServiceError(.invalidRequest, "query has dimension \(dimension), the index has \(info.dimension)")
        }
        let limit = max(1, min(maxK, info.vectorCount))
        guard (1...limit).contains(k) else { throw ServiceError(.invalidRequest, "k must be in 1...\(limit), got \(k)") }
    }

    /// Runs `body` when `jobs` more searches fit under `maxPendingSearches` (queued or running);
    /// otherwise refuses at once with `overloaded`, so memory cannot grow with the offered load.
    func admit<Result>(jobs: Int, _ body: () async throws(ServiceError) -> Result) async throws(ServiceError) -> Result {
        let admitted = pending.wrappingAdd(jobs, ordering: .relaxed).newValue
        defer { pending.wrappingSubtract(jobs, ordering: .relaxed) }
        guard admitted <= maxPendingSearches else {
            metrics.recordRejection(.overloaded)
            throw ServiceError(
                .overloaded,
                "\(admitted - jobs) searches are already queued or running (limit \(maxPendingSearches)); retry later"
            )
        }
        return try await body()
    }
}
