import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Swann
import SwannClient
import Synchronization

/// A closed-loop load generator: `connections` workers each send one query, wait for the
/// answer, and send the next, for `duration` seconds after a warm-up. The same loop drives the
/// TCP protocol (one SwannClient connection per worker), HTTP/JSON (AsyncHTTPClient, one
/// connection per worker) and in-process search (one thread per worker), so their QPS and
/// latencies compare directly.
struct LoadGenerator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Closed-loop load against swann serve (TCP or HTTP) or in-process search."
    )

    @Option(help: "Query vectors.")
    var queries: String
    @Option(help: "host:port of a server's TCP protocol.")
    var tcp: String?
    @Option(help: "host:port of a server's HTTP API.")
    var http: String?
    @Option(help: "An index directory to search in this process instead.")
    var inProcess: String?
    @Option(help: "Concurrent connections (threads for --in-process).")
    var connections = 2
    @Option(help: "Seconds measured (after the warm-up).")
    var duration = 20.0
    @Option(help: "Seconds of warm-up, not measured.")
    var warmup = 3.0
    @Option(name: .short) var k = 10
    @Option(help: "Override max postings per query (sent with every request).")
    var maxPostings: Int?
    @Option(help: "Ground truth (.ivecs/.ibin/.npy): report recall@k of the answers.")
    var truth: String?
    @Option(help: "Requests per second in all (spread over the connections); default: as fast as answered.")
    var rate: Double?
    @Option(help: "Stop early once this file exists (a background load for as long as a script runs).")
    var stopFile: String?
    @Option(help: "A server process id whose resident memory is sampled every second.")
    var serverPid: Int32?
    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard [tcp, http, inProcess].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --tcp, --http, --in-process")
        }
        guard connections >= 1, duration > 0 else { throw ValidationError("--connections and --duration must be positive") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be positive") }
    }

    func run() async throws {
        let matrix = try VectorFile(path: queries).readVectors()
        let rows = (0..<matrix.count).map { matrix.floats(at: $0) }
        let target: String
        let truthTable = try truth.map { try VectorFile(path: $0).readNeighbors() }
        let wantIDs = truthTable != nil
        // Returns the answer's ids when recall is measured, else nothing (no parsing cost).
        let send: @Sendable (Int, Int) async throws -> [Int64]
        var cleanup: @Sendable () async -> Void = {}
        if let tcp {
            guard let endpoint = ClientConfiguration(endpoint: tcp) else { throw ValidationError("--tcp: expected host:port") }
            let clients = (0..<connections).map { _ in SwannClient(endpoint) }
            let overrides = SearchParameters.Overrides(maxPostings: maxPostings)
            send = { worker, q in try await clients[worker].search(rows[q], k: k, overrides: overrides).neighbors.map(\.id) }
            cleanup = { for client in clients { await client.close() } }
            target = "tcp"
        } else if let http {
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let bodies = rows.map { row in
                var body: [String: Any] = ["vector": row.map(Double.init), "k": k]
                if let maxPostings { body["params"] = ["max_postings": maxPostings] }
                return ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: body))
            }
            let url = "http://\(http)/v1/search"
            send = { _, q in
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(bodies[q])
                let response = try await client.execute(request, timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .ok else { throw LoadError(status: Int(response.status.code)) }
                guard wantIDs, let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                    let results = object["results"] as? [[String: Any]]
                else { return [] }
                return results.compactMap { ($0["id"] as? NSNumber)?.int64Value }
            }
            cleanup = { try? await client.shutdown() }
            target = "http"
        } else {
            let index = try Index.open(at: inProcess!)
            let parameters = SearchParameters.Overrides(maxPostings: maxPostings).applied(to: index.defaultParameters)
            send = { _, q in try index.search(rows[q], k: k, parameters: parameters).map(\.id) }
            target = "in-process"
        }
        var result = try await measure(target: target, queryCount: rows.count, send: send)
        if let truthTable {
            var hits = 0
            var answered = 0
            for (q, ids) in result.answers where q < truthTable.queryCount {
                let expected = Set((0..<min(k, truthTable.k)).map { truthTable.ids[q * truthTable.k + $0] })
                hits += ids.prefix(k).filter { expected.contains($0) }.count
                answered += 1
            }
            result.recall = answered == 0 ? nil : Double(hits) / Double(answered * min(k, truthTable.k))
        }
        await cleanup()
        report(result)
    }

    struct LoadError: Error { var status: Int }

    struct Result {
        var target: String
        var queries = 0
        var errors = 0
        var seconds = 0.0
        var latencies: [Double] = []
        var rssMiB: [Double] = []
        /// The last answer seen per query (for recall).
        var answers: [Int: [Int64]] = [:]
        var recall: Double?
    }

    private func measure(target: String, queryCount: Int, send: @escaping @Sendable (Int, Int) async throws -> [Int64]) async throws -> Result {
        let clock = ContinuousClock()
        let start = clock.now
        let measureFrom = start + .milliseconds(Int(warmup * 1000))
        let end = measureFrom + .milliseconds(Int(duration * 1000))
        let connections = connections
        let pid = serverPid
        let interval: Duration? = rate.map { .nanoseconds(Int64(1e9 * Double(connections) / $0)) }
        let stopFile = stopFile
        let samples = Mutex<[Double]>([])
        let sampler = Task {
            guard let pid else { return }
            while !Task.isCancelled {
                if let rss = Self.residentMiB(pid: pid) { samples.withLock { $0.append(rss) } }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let perWorker = try await withThrowingTaskGroup(of: ([Double], Int, [Int: [Int64]]).self) { group in
            for worker in 0..<connections {
                group.addTask {
                    var latencies: [Double] = []
                    var errors = 0
                    var answers: [Int: [Int64]] = [:]
                    var q = worker * 997 % queryCount
                    var due = clock.now
                    while true {
                        if let interval {
                            try? await Task.sleep(until: due, clock: clock)
                            due = due + interval
                        }
                        let sent = clock.now
                        if sent >= end { break }
                        if let stopFile, latencies.count % 64 == 0, FileManager.default.fileExists(atPath: stopFile) { break }
                        do {
                            let ids = try await send(worker, q)
                            if !ids.isEmpty { answers[q] = ids }
                        } catch {
                            if sent >= measureFrom { errors += 1 }
                        }
                        if sent >= measureFrom { latencies.append((clock.now - sent).seconds * 1000) }
                        q = (q + connections) % queryCount
                    }
                    return (latencies, errors, answers)
                }
            }
            var all: [([Double], Int, [Int: [Int64]])] = []
            for try await part in group { all.append(part) }
            return all
        }
        sampler.cancel()
        var result = Result(target: target)
        result.latencies = perWorker.flatMap(\.0).sorted()
        result.errors = perWorker.map(\.1).reduce(0, +)
        result.queries = result.latencies.count
        result.seconds = max(0.001, min(duration, (clock.now - measureFrom).seconds))
        result.rssMiB = samples.withLock { $0 }
        for part in perWorker { result.answers.merge(part.2) { $1 } }
        return result
    }

    private func report(_ result: Result) {
        let latencies = result.latencies
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let qps = Double(result.queries) / result.seconds
        let mean = latencies.isEmpty ? 0 : latencies.reduce(0, +) / Double(latencies.count)
        // Memory is judged after the warm-up: the first samples include start-up.
        let settled = Array(result.rssMiB.dropFirst(Int(warmup) + 1))
        let rssFirst = settled.first ?? 0
        let rssLast = settled.last ?? 0
        let rssMax = settled.max() ?? 0
        if json {
            let recall = result.recall.map { String($0) } ?? "null"
            print(
                #"{"target":"\#(result.target)","connections":\#(connections),"recall":\#(recall),"qps":\#(qps),"mean_ms":\#(mean),"p50_ms":\#(percentile(0.5)),"p99_ms":\#(percentile(0.99)),"errors":\#(result.errors),"queries":\#(result.queries),"rss_first_mib":\#(rssFirst),"rss_last_mib":\#(rssLast),"rss_max_mib":\#(rssMax)}"#
            )
        } else {
            print(
                String(
                    format: "%-10@ %3d conn  %8.1f QPS  mean %6.2f ms  p50 %6.2f ms  p99 %6.2f ms  errors %d",
                    result.target,
                    connections,
                    qps,
                    mean,
                    percentile(0.5),
                    percentile(0.99),
                    result.errors
                )
            )
            if let recall = result.recall {
                print(String(format: "           recall@%d %.4f over %d distinct queries", k, recall, result.answers.count))
            }
            if !settled.isEmpty {
                print(String(format: "           server RSS: %.1f MiB after warm-up, %.1f MiB at the end, %.1f MiB max", rssFirst, rssLast, rssMax))
            }
        }
    }

    static func residentMiB(pid: Int32) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kib / 1024
    }
}
