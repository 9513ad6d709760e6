public import CoreMetrics
import Metrics
public import Prometheus
import Swann

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// The server's metrics, recorded through swift-metrics into a Prometheus registry of its own.
///
/// The factory is injected rather than bootstrapped globally (`MetricsSystem.bootstrap`), so a
/// process that embeds several servers, or a test suite that starts many, keeps each `/metrics`
/// separate, and an embedding service keeps its own global metrics backend.
public final class ServerMetrics: Sendable {
    /// The registry `/metrics` prints.
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    let inFlightRequests: CoreMetrics.Meter
    let tcpConnections: CoreMetrics.Meter
    let postingsRead: CoreMetrics.Counter
    let bytesRead: CoreMetrics.Counter
    let distancesComputed: CoreMetrics.Counter
    let searchDuration: CoreMetrics.Timer
    let queriesSearched: CoreMetrics.Counter
    let indexVectors: CoreMetrics.Gauge
    let indexResidentBytes: CoreMetrics.Gauge
    let indexPostingBytes: CoreMetrics.Gauge
    let reloads: CoreMetrics.Counter
    let deadVectors: CoreMetrics.Gauge
    let oversizedLists: CoreMetrics.Gauge
    let centroidDeficit: CoreMetrics.Gauge
    let rebalanceRunning: CoreMetrics.Gauge
    let rebalancePaused: CoreMetrics.Gauge
    let splits: CoreMetrics.Counter
    let merges: CoreMetrics.Counter
    let movedVectors: CoreMetrics.Counter
    let checkpoints: CoreMetrics.Counter
    /// The totals already counted: the index reports life totals, Prometheus wants increments.
    private let counted = NIOLockedValueBox<(index: ObjectIdentifier?, totals: RebalanceStatistics, checkpoints: Int)>(
        (nil, RebalanceStatistics(), 0)
    )

    /// Metrics recorded into `registry` (exposed at `/metrics`).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        self.factory = factory
        inFlightRequests = CoreMetrics.Meter(label: "swann_in_flight_requests", dimensions: [], factory: factory)
        tcpConnections = CoreMetrics.Meter(label: "swann_tcp_connections", dimensions: [], factory: factory)
        postingsRead = CoreMetrics.Counter(label: "swann_postings_read_total", dimensions: [], factory: factory)
        bytesRead = CoreMetrics.Counter(label: "swann_posting_bytes_read_total", dimensions: [], factory: factory)
        distancesComputed = CoreMetrics.Counter(label: "swann_distances_computed_total", dimensions: [], factory: factory)
        searchDuration = CoreMetrics.Timer(label: "swann_search_duration_seconds", dimensions: [], factory: factory)
        queriesSearched = CoreMetrics.Counter(label: "swann_queries_total", dimensions: [], factory: factory)
        indexVectors = CoreMetrics.Gauge(label: "swann_index_vectors", dimensions: [], factory: factory)
        indexResidentBytes = CoreMetrics.Gauge(label: "swann_index_resident_bytes", dimensions: [], factory: factory)
        indexPostingBytes = CoreMetrics.Gauge(label: "swann_index_posting_bytes", dimensions: [], factory: factory)
        reloads = CoreMetrics.Counter(label: "swann_index_reloads_total", dimensions: [], factory: factory)
        deadVectors = CoreMetrics.Gauge(label: "swann_index_dead_vectors", dimensions: [], factory: factory)
        oversizedLists = CoreMetrics.Gauge(label: "swann_rebalance_oversized_lists", dimensions: [], factory: factory)
        centroidDeficit = CoreMetrics.Gauge(label: "swann_rebalance_centroid_deficit", dimensions: [], factory: factory)
        rebalanceRunning = CoreMetrics.Gauge(label: "swann_rebalance_running", dimensions: [], factory: factory)
        rebalancePaused = CoreMetrics.Gauge(label: "swann_rebalance_paused", dimensions: [], factory: factory)
        splits = CoreMetrics.Counter(label: "swann_rebalance_splits_total", dimensions: [], factory: factory)
        merges = CoreMetrics.Counter(label: "swann_rebalance_merges_total", dimensions: [], factory: factory)
        movedVectors = CoreMetrics.Counter(label: "swann_rebalance_moved_vectors_total", dimensions: [], factory: factory)
        checkpoints = CoreMetrics.Counter(label: "swann_checkpoints_total", dimensions: [], factory: factory)
    }

    /// Records the index's size and its rebalancing state (at each scrape: they change with
    /// every write and checkpoint).
    func record(_ index: LiveIndex) {
        let status = index.rebalanceStatus
        indexVectors.record(index.count)
        deadVectors.record(status.deadVectors)
        oversizedLists.record(status.oversizedLists)
        centroidDeficit.record(status.centroidDeficit)
        rebalanceRunning.record(status.isRunning ? 1 : 0)
        rebalancePaused.record(status.isPaused ? 1 : 0)
        counted.withLockedValue { counted in
            // Totals only grow on one index; after a reload to another, count from its totals.
            if counted.index != ObjectIdentifier(index) { counted = (ObjectIdentifier(index), RebalanceStatistics(), 0) }
            splits.increment(by: max(0, status.totals.splits - counted.totals.splits))
            merges.increment(by: max(0, status.totals.merges - counted.totals.merges))
            movedVectors.increment(by: max(0, status.totals.movedVectors - counted.totals.movedVectors))
            checkpoints.increment(by: max(0, status.checkpoints - counted.checkpoints))
            counted = (ObjectIdentifier(index), status.totals, status.checkpoints)
        }
    }

    /// Counts one answered request of a front end.
    func recordRequest(frontEnd: String, route: String, status: String, duration: Duration) {
        let dimensions = [("frontend", frontEnd), ("route", route), ("status", status)]
        CoreMetrics.Counter(label: "swann_requests_total", dimensions: dimensions, factory: factory).increment()
        CoreMetrics.Timer(label: "swann_request_duration_seconds", dimensions: [("frontend", frontEnd), ("route", route)], factory: factory)
            .record(duration: duration)
    }

    /// Counts a request refused before it ran (queue full, timeout, not ready).
    func recordRejection(_ code: ServiceError.Code) {
        CoreMetrics.Counter(label: "swann_rejected_total", dimensions: [("reason", code.rawValue)], factory: factory).increment()
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
