import CoreMetrics
import Foundation
public import Logging
public import ServiceLifecycle
public import Swann
public import SwannClient

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// A backend that fans every query out to shard servers over the TCP protocol and merges
/// their top-k (`swann route`).
///
/// Shards are built with `swann build --shard i/N` and answer with global ids, so merging is
/// a sort of the concatenated answers by (distance, id): the router's answer equals merging the
/// shards' own answers. Each shard call has its own timeout and is retried once when the
/// connection failed (not when the shard answered with an error). A shard that does not
/// answer makes the result partial (`partial: true`, when `allowPartialResults`) or the
/// request fail with 503. Writes go to the shard that owns each id (`id % shards`, as
/// `swann build --shard` partitions). A health check asks every shard for its description on an interval; the router is ready
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
    private let up: NIOLockedValueBox<[Bool]>
    private let shardInfo: NIOLockedValueBox<[IndexInfo?]>
    /// The union of the descriptions known so far, recombined only when one arrives (every
    /// search validates against it).
    private let combinedInfo = NIOLockedValueBox<IndexInfo?>(nil)
    private let limits: RequestLimits

    /// A router over `options.shards`; `run()` starts the health checks.
    public init(options: Options, configuration: ServerConfiguration, metrics: ServerMetrics = ServerMetrics(), logger: Logger) {
        self.options = options
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        limits = RequestLimits(configuration, metrics: metrics)
        clients = options.shards.map { SwannClient($0) }
        up = NIOLockedValueBox([Bool](repeating: false, count: options.shards.count))
        shardInfo = NIOLockedValueBox([IndexInfo?](repeating: nil, count: options.shards.count))
    }

    var endpoints: [String] { options.shards.map { "\($0.host):\($0.port)" } }

    // MARK: Health

    /// Checks every shard until graceful shutdown.
    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await checkHealth()
            try? await Task.sleep(for: options.healthInterval)
        }
        for client in clients { await client.close() }
    }

    /// Asks every shard for its description once: a shard that answers is up, and its counts
    /// (which writes change) are refreshed.
    public func checkHealth() async {
        await withTaskGroup(of: (Int, Bool, IndexInfo?).self) { group in
            for (shard, client) in clients.enumerated() {
                group.addTask {
                    do throws(SwannClientError) {
                        let info = try await client.indexInfo()
                        return (shard, true, info)
                    } catch {
                        return (shard, false, nil)
                    }
                }
            }
            for await (shard, healthy, info) in group {
                let was = up.withLockedValue { state in
                    defer { state[shard] = healthy }
                    return state[shard]
                }
                if let info {
                    let known = shardInfo.withLockedValue { infos in
                        infos[shard] = info
                        return infos.compactMap { $0 }
                    }
                    combinedInfo.withLockedValue { $0 = IndexInfo.combining(known, endpoints: endpoints) }
                }
                if was != healthy {
                    logger.notice("shard \(endpoints[shard]) is \(healthy ? "up" : "down")")
                }
            }
        }
    }

    /// Whether searches can be answered now (`/readyz`).
    public var readiness: Readiness {
        let healthy = up.withLockedValue { $0 }
        let described = shardInfo.withLockedValue { $0.allSatisfy { $0 != nil } }
        if healthy.allSatisfy({ $0 }) && described { return .ready }
        if options.allowPartialResults, healthy.contains(true), shardInfo.withLockedValue({ $0.contains { $0 != nil } }) { return .ready }
        let down = zip(endpoints, healthy).filter { !$0.1 }.map(\.0)
        return .failed("shards not answering: \(down.joined(separator: ", "))")
    }

    // MARK: Writes

    /// Sends each point to the shard that owns its id (`ShardPosition.owner(of:shardCount:)`,
    /// the partition `swann build --shard` used), all shards at once. The batch is checked
    /// (dimension, finite values) before anything is sent; a shard that then refuses or fails
    /// leaves the other shards' parts written, and the error names what was applied — upserts
    /// are idempotent, so retrying the whole batch is safe.
    public func upsert(_ points: [Point], durability: Durability) async throws(ServiceError) {
        try limits.check(writeOf: points.count)
        let info = try indexInfo()
        for (i, point) in points.enumerated() {
            guard point.vector.count == info.dimension else {
                throw ServiceError(
                    .invalidRequest,
                    "point \(i) (id \(point.id)) has dimension \(point.vector.count), the index has \(info.dimension)"
                )
            }
            guard point.vector.allSatisfy(\.isFinite) else {
                throw ServiceError(.invalidRequest, "point \(i) (id \(point.id)) contains NaN or infinity")
            }
        }
        let parts = try partition(points.map(\.id))
        let durable = durability == .durable
        _ = try await writeToOwners(parts) { client, indices throws(SwannClientError) in
            try await client.upsert(ids: indices.map { points[$0].id }, vectors: indices.map { points[$0].vector }, durable: durable)
        }
    }

    /// Deletes each id on the shard that owns it; returns how many were present.
    public func delete(_ ids: [UInt64], durability: Durability) async throws(ServiceError) -> Int {
        try limits.check(writeOf: ids.count)
        let parts = try partition(ids)
        let durable = durability == .durable
        return try await writeToOwners(parts) { client, indices throws(SwannClientError) in
            try await client.delete(ids: indices.map { ids[$0] }, durable: durable)
        }
    }

    /// The vector stored under `id`, asked of the shard that owns it.
    public func point(id: UInt64) async throws(ServiceError) -> Point {
        let owner = try owners()[ShardPosition.owner(of: id, shardCount: clients.count)]
        let vector: [Float]?
        do { vector = try await withRetries { () async throws(SwannClientError) in try await clients[owner].point(id: id) } } catch {
            throw shardFailure(error, shard: owner)
        }
        guard let vector else { throw ServiceError(.notFound, "no point has id \(id)") }
        return Point(id: id, vector: vector)
    }

    /// For each shard position, the client of the shard that holds it, from the shards'
    /// descriptions: the router's list may name the shards in any order.
    private func owners() throws(ServiceError) -> [Int] {
        let infos = shardInfo.withLockedValue { $0 }
        var owners = [Int?](repeating: nil, count: clients.count)
        for (client, info) in infos.enumerated() {
            guard let info else { throw ServiceError(.unavailable, "shard \(endpoints[client]) has not described itself yet; retry") }
            guard info.shard.count == clients.count, (0..<clients.count).contains(info.shard.index), owners[info.shard.index] == nil else {
                throw ServiceError(
                    .internalError,
                    "shard \(endpoints[client]) is shard \(info.shard.index) of \(info.shard.count), which does not fit a router over \(clients.count) shards (build them with --shard i/\(clients.count))"
                )
            }
            owners[info.shard.index] = client
        }
        return owners.map { $0! }
    }

    /// The positions in `ids` each client owns (clients without any are left out).
    private func partition(_ ids: [UInt64]) throws(ServiceError) -> [(client: Int, indices: [Int])] {
        let owners = try owners()
        var parts = [[Int]](repeating: [], count: clients.count)
        for (i, id) in ids.enumerated() { parts[owners[ShardPosition.owner(of: id, shardCount: clients.count)]].append(i) }
        return parts.enumerated().filter { !$0.element.isEmpty }.map { ($0.offset, $0.element) }
    }

    /// Runs `write` on every owner at once; the sum of their answers, or an error naming the
    /// shards that applied their part and those that did not.
    private func writeToOwners(
        _ parts: [(client: Int, indices: [Int])],
        _ write: @escaping @Sendable (SwannClient, [Int]) async throws(SwannClientError) -> Int
    ) async throws(ServiceError) -> Int {
        let outcomes = await withTaskGroup(of: (Int, Result<Int, SwannClientError>).self) { group in
            for part in parts {
                let client = clients[part.client]
                group.addTask {
                    do throws(SwannClientError) {
                        return (
                            part.client,
                            .success(try await self.withRetries { () async throws(SwannClientError) in try await write(client, part.indices) })
                        )
                    } catch {
                        return (part.client, .failure(error))
                    }
                }
            }
            var outcomes: [(Int, Result<Int, SwannClientError>)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.0 < $1.0 }
        }
        var total = 0
        var applied: [String] = []
        var failure: ServiceError?
        for (client, outcome) in outcomes {
            switch outcome {
            case .success(let count):
                total += count
                applied.append(endpoints[client])
            case .failure(let error):
                if failure == nil { failure = shardFailure(error, shard: client) }
            }
        }
        if var failure {
            if !applied.isEmpty { failure.message += " (applied on \(applied.joined(separator: ", ")); retrying the whole request is safe)" }
            throw failure
        }
        return total
    }

    /// Calls `body`, again up to `options.retries` times while the connection fails (not when
    /// the shard answered with an error).
    private func withRetries<T>(_ body: () async throws(SwannClientError) -> T) async throws(SwannClientError) -> T {
        var attempt = 0
        while true {
            do throws(SwannClientError) {
                return try await body()
            } catch {
                let retriable = error.code == .connectionFailed || error.code == .connectionClosed
                guard retriable, attempt < options.retries else { throw error }
                attempt += 1
            }
        }
    }

    /// A shard's refusal as the router's own: its verdict on the request passes through; a
    /// shard that cannot be reached makes the router unavailable.
    private func shardFailure(_ error: SwannClientError, shard: Int) -> ServiceError {
        let message = "shard \(endpoints[shard]): \(error.message)"
        switch error.code {
        case .server(.invalidQuery): return ServiceError(.invalidRequest, message)
        case .server(.forbidden): return ServiceError(.forbidden, message)
        case .server(.notImplemented): return ServiceError(.notImplemented, message)
        case .server(.notReady): return ServiceError(.notReady, message)
        case .server(.overloaded): return ServiceError(.overloaded, message)
        default:
            logger.warning("shard \(endpoints[shard]) failed: \(error)")
            return ServiceError(.unavailable, message)
        }
    }

    /// Refused: a router holds no index of its own; pause each shard's server.
    public func setRebalancing(paused: Bool) async throws(ServiceError) -> RebalanceStatus {
        throw ServiceError(
            .notImplemented,
            "a router holds no index of its own: pause rebalancing on each shard's server (POST /v1/admin/rebalance there)"
        )
    }

    /// Refused: a router holds no index of its own; checkpoint each shard's server.
    public func checkpoint() async throws(ServiceError) {
        throw ServiceError(.notImplemented, "a router holds no index of its own: checkpoint each shard's server (POST /v1/admin/checkpoint there)")
    }

    /// Refused: a router serves no index of its own; reload each shard's server.
    public func reload(path: String?) async throws(ServiceError) -> IndexInfo {
        throw ServiceError(.notImplemented, "a router serves no index of its own: reload each shard's server (POST /v1/admin/reload there)")
    }

    /// What is served (`GET /v1/index`, the TCP `info` frame).
    /// - Throws: `ServiceError.Code.notReady` before the index (or any shard) is known.
    public func indexInfo() throws(ServiceError) -> IndexInfo {
        guard let combined = combinedInfo.withLockedValue({ $0 }) else { throw ServiceError(.notReady, "no shard has answered yet") }
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
        let outcomes = await withTaskGroup(of: (Int, Result<[SearchResponse], SwannClientError>).self) { group in
            for (shard, client) in clients.enumerated() {
                group.addTask {
                    do throws(SwannClientError) {
                        return (shard, .success(try await self.withRetries { () async throws(SwannClientError) in try await call(client) }))
                    } catch {
                        return (shard, .failure(error))
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
                up.withLockedValue { $0[shard] = false }
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
