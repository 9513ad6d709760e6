import ArgumentParser
import Foundation
import Swann
@_spi(Engine) import SwannCore

/// Exact search speed on a real dataset: single-query scans on one thread (the latency a
/// brute-force service would have) and a batched, all-core ground-truth run.
struct ExactScanBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exact-scan",
        abstract: "Time exact k-NN: single queries on one thread, and a batch on all cores."
    )

    @Argument(help: "Base vectors.")
    var base: String
    @Option(help: "Query vectors.")
    var queries: String
    @Option(help: "Single queries to time.")
    var singleQueries = 200
    @Option(help: "Queries in the batched run (0 = all).")
    var batchQueries = 0
    @Option(name: .short) var k = 10
    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let baseMatrix = try VectorFile(path: base).readVectors()
        let queryFile = try VectorFile(path: queries)
        let clock = ContinuousClock()

        let singles = try queryFile.readVectors(rows: 0..<min(singleQueries, queryFile.count))
        var latencies: [Double] = []
        for q in 0..<singles.count {
            let one = try VectorMatrix(elementType: singles.elementType, count: 1, dimension: singles.dimension)
            one.mutableRawBytes.copyMemory(from: UnsafeRawBufferPointer(start: singles.row(q), count: singles.rowBytes))
            let start = clock.now
            _ = ExactSearch.nearest(queries: one, base: baseMatrix, k: k, metric: .l2, threads: 1)
            latencies.append(milliseconds(clock.now - start))
        }
        latencies.sort()
        let mean = latencies.reduce(0, +) / Double(latencies.count)

        let batchCount = batchQueries > 0 ? min(batchQueries, queryFile.count) : queryFile.count
        let batch = try queryFile.readVectors(rows: 0..<batchCount)
        let start = clock.now
        _ = ExactSearch.nearest(queries: batch, base: baseMatrix, k: 100, metric: .l2)
        let batchSeconds = milliseconds(clock.now - start) / 1000
        if json {
            print(
                #"{"engine":"swann","single_mean_ms":\#(mean),"single_p50_ms":\#(latencies[latencies.count / 2]),"batch_queries":\#(batchCount),"batch_seconds":\#(batchSeconds),"threads":\#(Parallel.coreCount)}"#
            )
        } else {
            print(
                String(
                    format: "swann single query (1 thread, k=%d): mean %.2f ms, p50 %.2f ms over %d queries",
                    k,
                    mean,
                    latencies[latencies.count / 2],
                    latencies.count
                )
            )
            print(String(format: "swann batch ground truth (k=100, %d threads): %d queries in %.2f s", Parallel.coreCount, batchCount, batchSeconds))
        }
    }

    private func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) * 1e-15
    }
}
