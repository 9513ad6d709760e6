import CoreMetrics
import Foundation
public import Logging
public import ServiceLifecycle
public import Swann
public import SwannClient
import Synchronization

/// A backend that fans every query out to shard servers over the TCP protocol and merges
/// their top-k (`swann route`).
///
/// Shards are built with `swann build --shard i/N` and answer with global ids, so merging is
/// a sort of the concatenated answers by (distance, id): the router's answer equals merging the
/// shards' own answers. Each shard call has its own timeout and is retried once when the
/// connection failed (not when the shard answered with an error). A shard that does not
/// answer makes the result partial (`partial: true`, when `allowPartialResults`) or the
/// request fail with 503. A health check pings every shard on an interval; the router is ready
/// while every shard answers (or at least one, with partial results allowed).
public final class ShardRouter: SearchBackend, Service {
    /// How the router reaches and treats its shards.
    public struct Options: Sendable, Hashable {
        /// The shards' TCP endpoints.
        public var shards: [ClientConfiguration]
        /// Answer from the shards that replied (marked partial) instead of failing with 503.
        public var allowPartialResults = false
        /// Attempts per shard call after the first, for connection failures only.
        public var retries = 1
        /// How often every shard is pinged.
        public var healthInterval: Duration = .seconds(2)

        /// Routing to `shards`, with the other options at their defaults.
        public init(shards: [ClientConfiguration]) { self.shards = shards }
    }

    /// The limits and settings requests are checked against.
    public let configuration: ServerConfiguration
    /// Where request and search metrics are recorded.
    public let metrics: ServerMetrics
    /// Shards and how they are treated.
    public let options: Options
    private let clients: [SwannClient]
    private let logger: Logger
    private let up: Mutex<[Bool]>
    private let shardInfo: Mutex<[IndexInfo?]>
    /// The union of the descriptions known so far, recombined only when one arrives (every
    /// search validates against it).
    private let combinedInfo = Mutex<IndexInfo?>(nil)
    private let limits: RequestLimits

    /// A router over `options.shards`; `run()` starts the health checks.
    public init(options: Options, configuration: ServerConfiguration, metrics: ServerMetrics = ServerMetrics(), logger: Logger) {
        self.options = options
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        limits = RequestLimits(configuration, metrics: metrics)
        clients = options.shards.map { SwannClient($0) }
        up = Mutex([Bool](repeating: false, count: options.shards.count))
        shardInfo = Mutex([IndexInfo?](repeating: nil, count: options.shards.count))
    }

    var endpoints: [String] { options.shards.map { "\($0.host):\($0.port)" } }

    // MARK: Health

    /// Pings every shard until graceful shutdown.
    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await checkHealth()
            try? await Task.sleep(for: options.healthInterval)
        }
        for client in clients { await client.close() }
    }

    /// Pings every shard once (and fetches its description the first time it answers).
    public func checkHealth() async {
        await withTaskGroup(of: (Int, Bool, IndexInfo?).self) { group in
            for (shard, client) in clients.enumerated() {
                let known = shardInfo.withLock { $0[shard] } != nil
                group.addTask {
                    do throws(SwannClientError) {
                        try await client.ping()
                        if known { return (shard, true, nil) }
                        let info = try? await client.indexInfo()
                        return (shard, info != nil, info)
                    } catch {
                        return (shard, false, nil)
                    }
                }
            }
            for await (shard, healthy, info) in group {
                let was = up.withLock { state in
                    defer { state[shard] = healthy }
                    return state[shard]
                }
                if let info {
                    let known = shardInfo.withLock { infos in
                        infos[shard] = info
                        return infos.compactMap { $0 }
                    }
                    combinedInfo.withLock { $0 = IndexInfo.combining(known, endpoints: endpoints) }
                }
                if was != healthy {
                    logger.notice("shard \(endpoints[shard]) is \(healthy ? "up" : "down")")
                }
            }
        }
    }

    /// Whether searches can be answered now (`/readyz`).
    public var readiness: Readiness {
        let healthy = up.withLock { $0 }
        let described = shardInfo.withLock { $0.allSatisfy { $0 != nil } }
        if healthy.allSatisfy({ $0 }) && described { return .ready }
        if options.allowPartialResults, healthy.contains(true), shardInfo.withLock({ $0.contains { $0 != nil } }) { return .ready }
        let down = zip(endpoints, healthy).filter { !$0.1 }.map(\.0)
        return .failed("shards not answering: \(down.joined(separator: ", "))")
    }

    /// Writes are not routed yet: every write is refused with `notImplemented` (send it to the
    /// shard that owns the id).
    public func upsert(_ points: [Point], durability: Durability) async throws(ServiceError) {
        throw Self.writesNotRouted
    }

    /// Refused: see `upsert(_:durability:)`.
    public func delete(_ ids: [UInt64], durability: Durability) async throws(ServiceError) -> Int {
        throw Self.writesNotRouted
    }

    /// Refused: see `upsert(_:durability:)`.
    public func point(id: UInt64) async throws(ServiceError) -> Point {
        throw Self.writesNotRouted
    }

    static let writesNotRouted = ServiceError(
        .notImplemented,
        "the router does not route writes or point reads yet; send them to the shard's own server"
    )

    /// What is served (`GET /v1/index`, the TCP `info` frame).
    /// - Throws: `ServiceError.Code.notReady` before the index (or any shard) is known.
    public func indexInfo() throws(ServiceError) -> IndexInfo {
        guard let combined = combinedInfo.withLock({ $0 }) else { throw ServiceError(.notReady, "no shard has answered yet") }
        return combined
    }

    // MARK: Search

    /// The merged k nearest over every shard.
    public func search(_ request: SearchRequest) async throws(ServiceError) -> SearchResponse {
        try validate(k: request.k, dimension: request.vector.count)
        let answers = try await fanOut { client throws(SwannClientError) in
            [try await client.search(request.vector, k: request.k, overrides: request.overrides)]
        }
        return merge(answers.map { $0?[0] }, k: request.k)
    }

    /// The merged k nearest of each query over every shard, in order.
    public func search(_ request: BatchSearchRequest) async throws(ServiceError) -> [SearchResponse] {
        try limits.check(batchOf: request.queryCount)
        try validate(k: request.k, dimension: request.dimension)
        let rows = (0..<request.queryCount).map { Array(request.vectors[$0 * request.dimension..<($0 + 1) * request.dimension]) }
        let answers = try await fanOut { client throws(SwannClientError) in
            try await client.search(batch: rows, k: request.k, overrides: request.overrides)
        }
        return (0..<request.queryCount).map { q in merge(answers.map { $0?[q] }, k: request.k) }
    }

    private func validate(k: Int, dimension: Int) throws(ServiceError) {
        let info = try indexInfo()
        try limits.check(k: k, dimension: dimension, against: (info.dimension, info.vectorCount))
    }

    /// Calls every shard at once; nil for a shard that did not answer (when partial results
    /// are allowed). A shard's own refusal of the request (invalid query) fails the request.
    private func fanOut(
        _ call: @escaping @Sendable (SwannClient) async throws(SwannClientError) -> [SearchResponse]
    ) async throws(ServiceError) -> [[SearchResponse]?] {
        try await limits.admit(jobs: 1) { () async throws(ServiceError) in try await fanOutAdmitted(call) }
    }

    private func fanOutAdmitted(
        _ call: @escaping @Sendable (SwannClient) async throws(SwannClientError) -> [SearchResponse]
    ) async throws(ServiceError) -> [[SearchResponse]?] {
        let retries = options.retries
        let outcomes = await withTaskGroup(of: (Int, Result<[SearchResponse], SwannClientError>).self) { group in
            for (shard, client) in clients.enumerated() {
                group.addTask {
                    var attempt = 0
                    while true {
                        do throws(SwannClientError) {
                            return (shard, .success(try await call(client)))
                        } catch {
                            let retriable = error.code == .connectionFailed || error.code == .connectionClosed
                            if retriable, attempt < retries {
                                attempt += 1
                                continue
                            }
                            return (shard, .failure(error))
                        }
                    }
                }
            }
            var outcomes = [Result<[SearchResponse], SwannClientError>?](repeating: nil, count: clients.count)
            for await (shard, outcome) in group { outcomes[shard] = outcome }
            return outcomes.map { $0! }
        }
        var answers: [[SearchResponse]?] = []
        var missing: [String] = []
        for (shard, outcome) in outcomes.enumerated() {
            switch outcome {
            case .success(let responses):
                answers.append(responses)
            case .failure(let error):
                if case .server(let code) = error.code, code == .invalidQuery {
                    throw ServiceError(.invalidRequest, error.message)
                }
                CoreMetrics.Counter(label: "swann_shard_errors_total", dimensions: [("shard", endpoints[shard])], factory: metrics.factory)
                    .increment()
                logger.warning("shard \(endpoints[shard]) failed: \(error)")
                up.withLock { $0[shard] = false }
                missing.append("\(endpoints[shard]) (\(error))")
                answers.append(nil)
            }
        }
        if !missing.isEmpty, !options.allowPartialResults || missing.count == clients.count {
            throw ServiceError(.unavailable, "no answer from shard \(missing.joined(separator: ", "))")
        }
        return answers
    }

    /// The k nearest over the shards' answers; partial when a shard is missing.
    private func merge(_ answers: [SearchResponse?], k: Int) -> SearchResponse {
        var neighbors: [Neighbor] = []
        var statistics = SearchStatistics()
        for answer in answers.compactMap({ $0 }) {
            neighbors += answer.neighbors
            statistics.add(answer.statistics)
        }
        neighbors.sort { ($0.distance, $0.id) < ($1.distance, $1.id) }
        var merged = SearchResponse(neighbors: Array(neighbors.prefix(k)), statistics: statistics)
        merged.partial = answers.contains { $0 == nil }
        return merged
    }
}
