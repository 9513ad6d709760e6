import ArgumentParser
import Foundation
import Swann
import SwannClient
import Synchronization

/// Write throughput against a running server over the TCP protocol: `writers` workers each send
/// upserts (or deletes) of `batch` points and wait for the durable answer, optionally paced to
/// `rate` points a second in total (a background write load for a search benchmark).
struct WriteLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "writes",
        abstract: "Upsert (or delete) vectors through a server's TCP protocol and report points/s and latency."
    )

    @Option(help: "host:port of a server's TCP protocol.")
    var tcp: String
    @Option(help: "The vectors to upsert (row i gets id --first-id + i), or with --delete, how many ids.")
    var vectors: String?
    @Option(help: "Id of the first vector.")
    var firstID: UInt64 = 0
    @Option(help: "Points to write (default: every row of --vectors).")
    var count: Int?
    @Option(help: "Points per request.")
    var batch = 100
    @Option(help: "Concurrent writers, one connection each.")
    var writers = 1
    @Option(help: "Points per second across all writers (default: as fast as the server answers).")
    var rate: Double?
    @Option(help: "Stop after this many seconds; upserts cycle through the vectors and their ids (replacing them) until then.")
    var duration: Double?
    @Flag(help: "Delete ids --first-id ..< --first-id + --count instead of upserting.")
    var delete = false
    @Flag(help: "Answer from the log buffer (wait=false) instead of after the fsync.")
    var buffered = false
    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard batch >= 1, writers >= 1 else { throw ValidationError("--batch and --writers must be positive") }
        guard delete ? count != nil : vectors != nil else { throw ValidationError("give --vectors to upsert, or --delete with --count") }
    }

    func run() async throws {
        guard let endpoint = ClientConfiguration(endpoint: tcp) else { throw ValidationError("--tcp: expected host:port") }
        let rows: [[Float]]
        if let vectors {
            let matrix = try VectorFile(path: vectors).readVectors()
            rows = (0..<min(matrix.count, count ?? matrix.count)).map { matrix.floats(at: $0) }
        } else {
            rows = []
        }
        let total = delete ? count! : rows.count
        // With --duration, upserts cycle through the vectors, and their ids, until time is up:
        // after the first pass every upsert replaces a point (steady churn, constant size).
        let cycle = duration != nil && !delete
        let requests = cycle ? Int.max : (total + batch - 1) / batch
        let next = RequestCounter()
        let clock = ContinuousClock()
        let start = clock.now
        let stopAt = duration.map { start + .milliseconds(Int($0 * 1000)) }
        let (batch, writers, rate, delete, durable, firstID) = (batch, writers, rate, delete, !buffered, firstID)
        let perWriter = try await withThrowingTaskGroup(of: ([Double], Int, Int).self) { group in
            for _ in 0..<writers {
                group.addTask {
                    let client = SwannClient(endpoint)
                    var latencies: [Double] = []
                    var written = 0
                    var errors = 0
                    while true {
                        let r = next.value.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard r < requests else { break }
                        if let stopAt, clock.now >= stopAt { break }
                        let range = r * batch..<(cycle ? (r + 1) * batch : min(total, (r + 1) * batch))
                        if let rate {
                            // Paced: request r is due when the points before it have had their time.
                            let due = start + .milliseconds(Int(Double(range.lowerBound) / rate * 1000))
                            if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                        }
                        let ids = range.map { firstID + UInt64($0 % total) }
                        let sent = clock.now
                        do throws(SwannClientError) {
                            if delete {
                                _ = try await client.delete(ids: ids, durable: durable)
                            } else {
                                _ = try await client.upsert(ids: ids, vectors: range.map { rows[$0 % total] }, durable: durable)
                            }
                            written += range.count
                        } catch {
                            errors += 1
                        }
                        latencies.append((clock.now - sent).seconds * 1000)
                    }
                    await client.close()
                    return (latencies, written, errors)
                }
            }
            var all: [([Double], Int, Int)] = []
            for try await part in group { all.append(part) }
            return all
        }
        let seconds = (clock.now - start).seconds
        let latencies = perWriter.flatMap(\.0).sorted()
        let written = perWriter.map(\.1).reduce(0, +)
        let errors = perWriter.map(\.2).reduce(0, +)
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let operation = delete ? "delete" : "upsert"
        if json {
            print(
                #"{"operation":"\#(operation)","writers":\#(writers),"batch":\#(batch),"durable":\#(durable),"points":\#(written),"seconds":\#(seconds),"points_per_s":\#(Double(written) / seconds),"requests_per_s":\#(Double(latencies.count) / seconds),"p50_ms":\#(percentile(0.5)),"p99_ms":\#(percentile(0.99)),"errors":\#(errors)}"#
            )
        } else {
            print(
                String(
                    format:
                        "%@ %d writers × batch %d (%@): %d points in %.2f s = %.0f points/s, %.0f requests/s, p50 %.2f ms, p99 %.2f ms, errors %d",
                    operation,
                    writers,
                    batch,
                    durable ? "durable" : "buffered",
                    written,
                    seconds,
                    Double(written) / seconds,
                    Double(latencies.count) / seconds,
                    percentile(0.5),
                    percentile(0.99),
                    errors
                )
            )
        }
    }
}

/// Hands out request numbers to the writers.
final class RequestCounter: Sendable {
    let value = Atomic(0)
}

/// Recovery time: logs `count` upserts into an index (no checkpoint), then times reopening it,
/// which replays them; then a checkpoint, and the index's resident bytes before and after.
struct ReplayBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Log upserts into an index without checkpointing, then time the replay at open and a checkpoint."
    )

    @Argument(help: "A writable index directory (it is changed).")
    var index: String
    @Option(help: "The vectors to upsert (ids --first-id + row).")
    var vectors: String
    @Option(help: "Id of the first vector.")
    var firstID: UInt64 = 1 << 40
    @Option(help: "Points per log record.")
    var batch = 1_000
    @Option(help: "Vectors to upsert (default: all).")
    var count: Int?

    func run() async throws {
        let matrix = try VectorFile(path: vectors).readVectors()
        let total = min(matrix.count, count ?? matrix.count)
        var options = LiveIndex.WriteOptions()
        options.checkpointBytes = .max
        do {
            let live = try LiveIndex.open(at: index, writeOptions: options)
            // Fold in what the log holds already, so that the replay timed below is of these
            // upserts alone.
            try await live.checkpoint()
            let started = ContinuousClock.now
            for start in stride(from: 0, to: total, by: batch) {
                let points = (start..<min(total, start + batch)).map { Point(id: firstID + UInt64($0), vector: matrix.floats(at: $0)) }
                try await live.upsert(points, durability: .buffered)
            }
            try await live.sync()
            try await live.closeForWrites()
            print(String(format: "logged %d upserts in %.2f s", total, (ContinuousClock.now - started).seconds))
        }
        let clock = ContinuousClock()
        let opened = clock.now
        let live = try LiveIndex.open(at: index, writeOptions: options)
        let replaySeconds = (clock.now - opened).seconds
        print(
            String(
                format: "replayed %d log records (%d vectors) at open in %.2f s; overlay rows %d; base index in memory %.1f MiB",
                live.replayedRecords,
                total,
                replaySeconds,
                live.overlayRows,
                Double(live.index.residentBytes) / 1_048_576
            )
        )
        let checkpointStarted = clock.now
        try await live.checkpoint()
        print(
            String(
                format: "checkpoint in %.2f s; %d vectors, base index in memory %.1f MiB after",
                (clock.now - checkpointStarted).seconds,
                live.count,
                Double(live.index.residentBytes) / 1_048_576
            )
        )
    }
}
