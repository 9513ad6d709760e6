import AsyncHTTPClient
import Foundation
import NIOCore
import Swann
import SwannClient
import SwannTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hot swap under load: 16 connections search without pause while `swann serve` replaces its
/// index five times (`POST /v1/admin/reload` to a rebuilt directory and back, and SIGHUP), and
/// the same through `swann route` while each of 3 shards reloads. No request may fail.
@Suite(.serialized)
struct HotSwapTests {
    static let queries = Array(BundledExample.queryRows[0..<100])

    /// Searches on `connections` TCP connections until `stop` is set; returns (answered, failures).
    static func searchLoad(port: Int, connections: Int, until stop: StopFlag) async -> (Int, [String]) {
        await withTaskGroup(of: (Int, [String]).self) { group in
            for c in 0..<connections {
                group.addTask {
                    let client = SwannClient(ClientConfiguration(port: port, timeout: .seconds(30)))
                    var answered = 0
                    var failures: [String] = []
                    var q = c
                    while !stop.isSet {
                        do throws(SwannClientError) {
                            let answer = try await client.search(queries[q % queries.count], k: 10)
                            if answer.neighbors.count == 10 { answered += 1 } else { failures.append("\(answer.neighbors.count) hits") }
                        } catch {
                            failures.append("\(error)")
                        }
                        q += connections
                    }
                    await client.close()
                    return (answered, failures)
                }
            }
            var total = (0, [String]())
            for await (answered, failures) in group {
                total.0 += answered
                total.1 += failures
            }
            return total
        }
    }

    static func reload(httpPort: Int, path: String? = nil) throws -> (Int, String) {
        var arguments = ["-X", "POST", "http://127.0.0.1:\(httpPort)/v1/admin/reload"]
        if let path {
            arguments += ["-H", "Content-Type: application/json", "-d", "{\"path\": \"\(path)\"}"]
        }
        let answer = try ServeCommandTests.curl(arguments)
        return (answer.status, String(decoding: answer.body, as: UTF8.self))
    }

    static func reloadCount(httpPort: Int) throws -> Int {
        let metrics = String(decoding: try ServeCommandTests.curl(["http://127.0.0.1:\(httpPort)/metrics"]).body, as: UTF8.self)
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("swann_index_reloads_total") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }

    static func centroids(httpPort: Int) throws -> Int {
        let body = try ServeCommandTests.curl(["http://127.0.0.1:\(httpPort)/v1/index"]).body
        return (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["centroid_count"] as? Int ?? -1
    }

    @Test func sixteenConnectionsSearchWhileTheIndexIsReloadedFiveTimes() async throws {
        let directory = CLI.temporaryDirectory()
        let first = directory + "/first.swann"
        let second = directory + "/second.swann"
        try FileManager.default.copyItem(atPath: BundledExample.index, toPath: first)
        let built = try CLI.run(["build", BundledExample.base, "--output", second, "--centroid-ratio", "0.05"])
        #expect(built.status == 0, "\(built.stderr)")
        let server = try ServerProcess(["serve", first, "--port", "0", "--tcp-port", "0"])
        defer { _ = server.stop() }
        let firstCentroids = try Self.centroids(httpPort: server.httpPort)

        let stop = StopFlag()
        let tcpPort = server.tcpPort
        async let load = Self.searchLoad(port: tcpPort, connections: 16, until: stop)
        try await Task.sleep(for: .milliseconds(300))
        // 1, 3, 5: HTTP, alternating directories; 2, 4: SIGHUP (reopens the directory served).
        var expectedCentroids = firstCentroids
        for round in 1...5 {
            if round % 2 == 1 {
                let target = round == 3 ? first : second
                let (status, body) = try Self.reload(httpPort: server.httpPort, path: target)
                #expect(status == 200, "round \(round): \(body)")
                expectedCentroids = try Self.centroids(httpPort: server.httpPort)
            } else {
                kill(server.process.processIdentifier, SIGHUP)
                let deadline = ContinuousClock.now + .seconds(30)
                while try Self.reloadCount(httpPort: server.httpPort) < round, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(try Self.reloadCount(httpPort: server.httpPort) == round)
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(expectedCentroids != firstCentroids, "the last reload serves the rebuilt directory")
        stop.set()
        let (answered, failures) = await load
        #expect(failures.isEmpty, "\(failures.count) failed: \(failures.prefix(5))")
        #expect(answered > 100)
        // A broken target fails cleanly and the server goes on serving.
        let (status, _) = try Self.reload(httpPort: server.httpPort, path: directory + "/nothing-here")
        #expect(status == 422)
        #expect(try Self.centroids(httpPort: server.httpPort) == expectedCentroids)
    }

    @Test func searchesThroughARouterSurviveEveryShardReloading() async throws {
        let directory = CLI.temporaryDirectory()
        let shards = try RouterTests.shards.enumerated().map { shard, path in
            let copy = directory + "/shard-\(shard).swann"
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            return copy
        }
        let servers = try shards.map { try ServerProcess(["serve", $0, "--port", "0", "--tcp-port", "0"]) }
        defer { for server in servers { _ = server.stop() } }
        let endpoints = servers.map { "127.0.0.1:\($0.tcpPort)" }.joined(separator: ",")
        let router = try ServerProcess(["route", "--shards", endpoints, "--port", "0", "--tcp-port", "0", "--shard-timeout", "10"])
        defer { _ = router.stop() }
        let probe = SwannClient(ClientConfiguration(port: router.tcpPort, timeout: .seconds(30)))
        while (try? await probe.indexInfo()) == nil { try await Task.sleep(for: .milliseconds(50)) }
        await probe.close()

        let stop = StopFlag()
        let routerPort = router.tcpPort
        async let load = Self.searchLoad(port: routerPort, connections: 16, until: stop)
        for round in 1...5 {
            for server in servers {
                let (status, body) = try Self.reload(httpPort: server.httpPort)
                #expect(status == 200, "round \(round): \(body)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        stop.set()
        let (answered, failures) = await load
        #expect(failures.isEmpty, "\(failures.count) failed: \(failures.prefix(5))")
        #expect(answered > 100)
    }
}

/// A flag the load tasks poll.
final class StopFlag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
