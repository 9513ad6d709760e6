import CoreMetrics
import Metrics
public import NIOPosix
public import Swann
public import SwannProtocol

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// What both front ends call: validates requests against the index and the server's limits,
/// runs searches on a bounded thread pool off the event loops, and records metrics.
///
/// Searches are CPU- and disk-bound and take milliseconds, so running them on an event loop
/// would stall every connection on it; they go to an `NIOThreadPool` sized to the cores. At
/// most `maxPendingSearches` jobs may be queued or running: beyond that a request is refused at
/// once (`overloaded`), so memory cannot grow with the offered load. A job that waited past
/// `requestTimeout` is answered with `timeout` instead of being run late.
public final class SearchService: SearchBackend {
    private enum State: Sendable {
        case loading
        case ready(LiveIndex)
        case failed(String)
    }

    /// The limits and settings requests are checked against.
    public let configuration: ServerConfiguration
    /// Where request and search metrics are recorded.
    public let metrics: ServerMetrics
    private let state = NIOLockedValueBox(State.loading)
    /// How the served index was opened, for `reload()`; nil for an attached one.
    private let source = NIOLockedValueBox<(path: String, options: Index.OpenOptions)?>(nil)
    /// A reload is running (a second one is refused with `conflict`).
    private let reloading = NIOLockedValueBox(false)
    private let pool: NIOThreadPool
    private let limits: RequestLimits

    /// A service whose pool is started; call `shutdown()` when done.
    public init(configuration: ServerConfiguration, metrics: ServerMetrics = ServerMetrics()) {
        self.configuration = configuration
        self.metrics = metrics
        limits = RequestLimits(configuration, metrics: metrics)
        pool = NIOThreadPool(numberOfThreads: configuration.searchThreads)
        pool.start()
    }

    /// Stops the pool after the jobs already queued have finished.
    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }

    /// Whether searches can be answered now (`/readyz`).
    public var readiness: Readiness {
        state.withLockedValue { state in
            switch state {
            case .loading: .loading
            case .ready: .ready
            case .failed(let message): .failed(message)
            }
        }
    }

    /// The index, once ready.
    public var index: LiveIndex? {
        state.withLockedValue { if case .ready(let index) = $0 { index } else { nil } }
    }

    /// Opens the index at `path` on the pool (replaying its write-ahead log unless the
    /// configuration is read-only), warms it, and marks the service ready.
    /// - Throws: the open or warm-up failure (the service then reports `.failed`).
    public func load(path: String, options: Index.OpenOptions = .init()) async throws {
        do {
            attach(try await open(path: path, options: options))
            source.withLockedValue { $0 = (path, options) }
        } catch {
            state.withLockedValue { $0 = .failed("the index failed to open: \(error)") }
            throw error
        }
    }

    private func open(path: String, options: Index.OpenOptions) async throws -> LiveIndex {
        let access: LiveIndex.Access = configuration.readOnly ? .readOnly : .readWrite
        let writeOptions = configuration.writeOptions
        return try await pool.runIfActive { () throws -> LiveIndex in
            let index = try LiveIndex.open(at: path, options: options, access: access, writeOptions: writeOptions)
            try index.index.warmUp()
            return index
        }
    }

    /// Replaces the served index with the one at `path` (by default the directory served now,
    /// e.g. after `swann build --force` rebuilt it) without dropping a search: the new index
    /// opens and warms beside the old one, searches that started on the old one finish on it,
    /// and its files close when the last of them ends.
    ///
    /// A writable index stops taking writes while the new one opens (they are answered
    /// `not_ready`, to be retried) and hands over its log: reloading the same directory replays
    /// every write acknowledged so far. If the new index cannot be opened, the old one goes on
    /// serving, writes included.
    /// - Returns: what is served now.
    /// - Throws: `ServiceError` `.conflict` while another reload runs, `.reloadFailed` with the
    ///   reason when the new index cannot be opened, `.notReady` before the first load.
    public func reload(path newPath: String? = nil) async throws(ServiceError) -> IndexInfo {
        guard let current = source.withLockedValue({ $0 }) else {
            throw ServiceError(.notReady, "the index is still loading, or was attached without a path")
        }
        let old = try readyIndex()
        let already = reloading.withLockedValue { running in
            defer { running = true }
            return running
        }
        guard !already else { throw ServiceError(.conflict, "another reload is running; retry when it has finished") }
        defer { reloading.withLockedValue { $0 = false } }
        let path = newPath ?? current.path
        do { try await old.closeForWrites() } catch {
            throw ServiceError(.reloadFailed, "the served index could not hand over its write-ahead log: \(error.message)")
        }
        let new: LiveIndex
        do {
            new = try await open(path: path, options: current.options)
        } catch {
            try? await old.reopenForWrites()
            throw ServiceError(.reloadFailed, "\(path) cannot be served (the old index goes on serving): \(error)")
        }
        source.withLockedValue { $0 = (path, current.options) }
        attach(new)
        metrics.reloads.increment()
        return try indexInfo()
    }

    /// What is served (`GET /v1/index`, the TCP `info` frame).
    /// - Throws: `ServiceError.Code.notReady` before the index (or any shard) is known.
    public func indexInfo() throws(ServiceError) -> IndexInfo {
        let index = try readyIndex()
        var info = IndexInfo(index.index)
        info.vectorCount = index.count
        return info
    }

    /// Serves an index that is already open (embedding, tests): read-only, however it was opened.
    public func attach(_ index: Index) {
        attach(LiveIndex(serving: index))
    }

    /// Serves a live index that is already open (embedding, tests).
    public func attach(_ index: LiveIndex) {
        recordSize(of: index)
        state.withLockedValue { $0 = .ready(index) }
    }

    private func recordSize(of index: LiveIndex) {
        metrics.indexVectors.record(index.count)
        metrics.indexResidentBytes.record(index.index.residentBytes)
        metrics.indexPostingBytes.record(index.index.postingFileBytes)
    }

    /// Records the served index's size and rebalancing state.
    public func refreshMetrics() {
        if let index = try? readyIndex() { metrics.record(index) }
    }

    func readyIndex() throws(ServiceError) -> LiveIndex {
        let current = state.withLockedValue { $0 }
        switch current {
        case .ready(let index): return index
        case .loading: throw ServiceError(.notReady, "the index is still loading")
        case .failed(let message): throw ServiceError(.notReady, message)
        }
    }

    /// Answers one query.
    public func search(_ request: SearchRequest) async throws(ServiceError) -> SearchResponse {
        let index = try readyIndex()
        let parameters = try validate(k: request.k, dimension: request.vector.count, overrides: request.overrides, index: index)
        let vector = request.vector
        let k = request.k
        let responses = try await run(jobs: 1) { _ throws(ServiceError) in
            do throws(SearchError) {
                let result = try index.searchWithStatistics(vector, k: k, parameters: parameters)
                return [SearchResponse(neighbors: result.neighbors, statistics: result.statistics)]
            } catch {
                throw ServiceError(error)
            }
        }
        return responses[0]
    }

    /// Answers every query of a batch, in order, spread over the pool.
    public func search(_ request: BatchSearchRequest) async throws(ServiceError) -> [SearchResponse] {
        let index = try readyIndex()
        try limits.check(batchOf: request.queryCount)
        let parameters = try validate(k: request.k, dimension: request.dimension, overrides: request.overrides, index: index)
        let chunks = min(configuration.searchThreads, request.queryCount)
        let perChunk = (request.queryCount + chunks - 1) / chunks
        let k = request.k
        let dimension = request.dimension
        let vectors = request.vectors
        let count = request.queryCount
        return try await run(jobs: chunks) { chunk throws(ServiceError) in
            var responses: [SearchResponse] = []
            for q in chunk * perChunk..<min(count, (chunk + 1) * perChunk) {
                let query = Array(vectors[q * dimension..<(q + 1) * dimension])
                do throws(SearchError) {
                    let result = try index.searchWithStatistics(query, k: k, parameters: parameters)
                    responses.append(SearchResponse(neighbors: result.neighbors, statistics: result.statistics))
                } catch {
                    throw ServiceError(ServiceError(error).code, "query \(q): \(error.message)")
                }
            }
            return responses
        }
    }

    private func validate(
        k: Int,
        dimension: Int,
        overrides: SearchParameters.Overrides,
        index: LiveIndex
    ) throws(ServiceError) -> SearchParameters {
        try limits.check(k: k, dimension: dimension, against: (index.dimension, index.count))
        do { return try index.index.parameters(overrides) } catch { throw ServiceError(.invalidRequest, error.message) }
    }

    /// Inserts or replaces `points`, whole or not at all.
    public func upsert(_ points: [Point], durability: Durability) async throws(ServiceError) {
        let index = try writableIndex()
        try limits.check(writeOf: points.count)
        do { try await index.upsert(points, durability: durability) } catch { throw ServiceError(error) }
        recordSize(of: index)
    }

    /// Deletes `ids`; returns how many were present.
    public func delete(_ ids: [UInt64], durability: Durability) async throws(ServiceError) -> Int {
        let index = try writableIndex()
        try limits.check(writeOf: ids.count)
        do {
            let deleted = try await index.delete(ids, durability: durability)
            recordSize(of: index)
            return deleted
        } catch {
            throw ServiceError(error)
        }
    }

    /// The vector stored under `id`.
    public func point(id: UInt64) async throws(ServiceError) -> Point {
        let index = try readyIndex()
        let vector: [Float]?
        do { vector = try await index.vector(id: id) } catch { throw ServiceError(error) }
        guard let vector else { throw ServiceError(.notFound, "no point has id \(id)") }
        return Point(id: id, vector: vector)
    }

    /// Folds every write into the index files and empties the log; searches and writes go on
    /// meanwhile.
    public func checkpoint() async throws(ServiceError) {
        let index = try writableIndex()
        do { try await index.checkpoint() } catch { throw ServiceError(error) }
        recordSize(of: index)
    }

    /// Pauses or resumes rebalancing; returns where it stands now.
    public func setRebalancing(paused: Bool) async throws(ServiceError) -> RebalanceStatus {
        let index = try writableIndex()
        if paused { await index.pauseRebalancing() } else { await index.resumeRebalancing() }
        return index.rebalanceStatus
    }

    private func writableIndex() throws(ServiceError) -> LiveIndex {
        let index = try readyIndex()
        guard index.access == .readWrite else {
            throw ServiceError(.readOnly, "this server is read-only (--read-only): it takes no writes")
        }
        return index
    }

    /// Runs `jobs` pool jobs (job i gets i) and concatenates their results in order, after
    /// admission control; records search metrics.
    private func run(
        jobs: Int,
        _ body: @escaping @Sendable (Int) throws(ServiceError) -> [SearchResponse]
    ) async throws(ServiceError) -> [SearchResponse] {
        try await limits.admit(jobs: jobs) { () async throws(ServiceError) in try await runAdmitted(jobs: jobs, body) }
    }

    private func runAdmitted(
        jobs: Int,
        _ body: @escaping @Sendable (Int) throws(ServiceError) -> [SearchResponse]
    ) async throws(ServiceError) -> [SearchResponse] {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.requestTimeout
        let started = clock.now
        let pool = pool
        @Sendable func runJob(_ job: Int) async throws -> Result<[SearchResponse], ServiceError> {
            // The result crosses from the pool thread to this task through a lock as well as
            // the continuation that `runIfActive` resumes. The continuation alone orders the two
            // (the concurrency runtime's queues), but ThreadSanitizer cannot see inside that
            // runtime and reported the answer array as a race; one uncontended lock per job
            // makes the hand-over visible, so that a real race in this path would still stand out.
            let handOver = NIOLockedValueBox<Result<[SearchResponse], ServiceError>?>(nil)
            try await pool.runIfActive {
                let result: Result<[SearchResponse], ServiceError>
                if clock.now <= deadline {
                    do throws(ServiceError) { result = .success(try body(job)) } catch { result = .failure(error) }
                } else {
                    result = .failure(ServiceError(.timeout, "the search waited longer than the request timeout"))
                }
                handOver.withLockedValue { $0 = result }
            }
            return handOver.withLockedValue { $0 } ?? .failure(ServiceError(.internalError, "the search ended without an answer"))
        }
        let outcome: [Result<[SearchResponse], ServiceError>]
        do {
            if jobs == 1 {
                // One query: no child task, one hop to the pool and back.
                outcome = [try await runJob(0)]
            } else {
                outcome = try await withThrowingTaskGroup(of: (Int, Result<[SearchResponse], ServiceError>).self) { group in
                    for job in 0..<jobs {
                        group.addTask { (job, try await runJob(job)) }
                    }
                    var results = [Result<[SearchResponse], ServiceError>](repeating: .success([]), count: jobs)
                    for try await (job, result) in group { results[job] = result }
                    return results
                }
            }
        } catch {
            throw ServiceError(.notReady, "the server is shutting down")
        }
        var responses: [SearchResponse] = []
        for result in outcome {
            switch result {
            case .success(let part): responses += part
            case .failure(let error):
                if error.code == .timeout { metrics.recordRejection(.timeout) }
                throw error
            }
        }
        metrics.searchDuration.record(duration: clock.now - started)
        metrics.queriesSearched.increment(by: responses.count)
        var total = SearchStatistics()
        for response in responses { total.add(response.statistics) }
        metrics.postingsRead.increment(by: total.postingsRead)
        metrics.bytesRead.increment(by: total.bytesRead)
        metrics.distancesComputed.increment(by: total.distancesComputed)
        return responses
    }
}
