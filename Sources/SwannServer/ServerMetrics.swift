public import CoreMetrics
import Metrics
public import Prometheus

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
