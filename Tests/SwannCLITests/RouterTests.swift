import Foundation
import Swann
import SwannClient
import SwannTestSupport
import Testing

/// Three shard servers and routers over them, as plain processes on loopback.
@Suite(.serialized)
struct RouterTests {
    /// The bundled example built as 3 shards (rows i, i+3, i+6, … in shard i).
    static let shards: [String] = {
        let directory = CLI.temporaryDirectory()
        return (0..<3).map { i in
            let path = directory + "/shard-\(i).swann"
            let result = try! CLI.run(["build", BundledExample.base, "--output", path, "--shard", "\(i)/3"])
            precondition(result.status == 0, result.stderr)
            return path
        }
    }()

    static let queries = Array(BundledExample.queryRows[0..<200])
    static let truth: NeighborTable = try! VectorFile(path: BundledExample.truth).readNeighbors()

    static func recall(_ answers: [[Neighbor]]) -> Double {
        var hits = 0
        for (q, answer) in answers.enumerated() {
            let expected = Set((0..<10).map { truth.ids[q * truth.k + $0] })
            hits += answer.prefix(10).filter { expected.contains($0.id) }.count
        }
        return Double(hits) / Double(answers.count * 10)
    }

    static func merge(_ answers: [[Neighbor]], k: Int) -> [Neighbor] {
        Array(answers.flatMap { $0 }.sorted { ($0.distance, $0.id) < ($1.distance, $1.id) }.prefix(k))
    }

    @Test func routerAnswersAreTheMergedShardAnswersAndKeepRecall() async throws {
        let servers = try Self.shards.map { try ServerProcess(["serve", $0, "--port", "0", "--tcp-port", "0"]) }
        defer { for server in servers { _ = server.stop() } }
        let endpoints = servers.map { "127.0.0.1:\($0.tcpPort)" }.joined(separator: ",")
        let router = try ServerProcess(["route", "--shards", endpoints, "--port", "0", "--tcp-port", "0"])
        defer { _ = router.stop() }

        let client = SwannClient(ClientConfiguration(port: router.tcpPort))
        let shardClients = servers.map { SwannClient(ClientConfiguration(port: $0.tcpPort)) }
        var routed: [[Neighbor]] = []
        for query in Self.queries {
            let answer = try await client.search(query, k: 10)
            #expect(!answer.partial)
            var own: [[Neighbor]] = []
            for shard in shardClients { own.append(try await shard.search(query, k: 10).neighbors) }
            #expect(answer.neighbors == Self.merge(own, k: 10))
            routed.append(answer.neighbors)
        }
        // A batch through the router matches the single answers.
        #expect(try await client.search(batch: Array(Self.queries[0..<20]), k: 10).map(\.neighbors) == Array(routed[0..<20]))

        let unsharded = try Index.open(at: BundledExample.index)
        let single = try Self.queries.map { try unsharded.search($0, k: 10) }
        let (routedRecall, singleRecall) = (Self.recall(routed), Self.recall(single))
        #expect(routedRecall >= singleRecall - 0.01, "routed \(routedRecall) vs unsharded \(singleRecall)")

        // The HTTP side and /v1/index describe the union.
        let info = try await client.indexInfo()
        #expect(info.vectorCount == 10_000)
        #expect(info.shards?.count == 3)
        #expect(info.shard == ShardPosition(index: 0, count: 1))
        await client.close()
        for shard in shardClients { await shard.close() }
    }

    @Test func aDownShardGivesPartialAnswersOr503ThenFullAnswersWhenBack() async throws {
        var servers = try Self.shards.map { try ServerProcess(["serve", $0, "--port", "0", "--tcp-port", "0"]) }
        defer { for server in servers { _ = server.stop() } }
        let endpoints = servers.map { "127.0.0.1:\($0.tcpPort)" }.joined(separator: ",")
        let strict = try ServerProcess([
            "route", "--shards", endpoints, "--port", "0", "--tcp-port", "0", "--shard-timeout", "1", "--health-interval", "0.2",
        ])
        defer { _ = strict.stop() }
        let lenient = try ServerProcess([
            "route", "--shards", endpoints, "--port", "0", "--tcp-port", "0", "--partial", "--shard-timeout", "1", "--health-interval", "0.2",
        ])
        defer { _ = lenient.stop() }
        let query = Self.queries[0]
        let strictClient = SwannClient(ClientConfiguration(port: strict.tcpPort))
        let lenientClient = SwannClient(ClientConfiguration(port: lenient.tcpPort))
        let full = try await strictClient.search(query, k: 10)
        #expect(try await lenientClient.search(query, k: 10).neighbors == full.neighbors)

        // Shard 2 goes away.
        let shardPort = servers[2].tcpPort
        let shardHTTP = servers[2].httpPort
        _ = servers[2].stop()
        do throws(SwannClientError) {
            _ = try await strictClient.search(query, k: 10)
            Issue.record("the strict router answered without shard 2")
        } catch {
            #expect(error.code == .server(.unavailable), "\(error)")
        }
        let partial = try await lenientClient.search(query, k: 10)
        #expect(partial.partial)
        #expect(partial.neighbors.allSatisfy { $0.id % 3 != 2 }, "shard 2 holds the rows ≡ 2 mod 3")
        #expect(
            partial.neighbors == full.neighbors.filter { $0.id % 3 != 2 }
                + partial.neighbors.dropFirst(full.neighbors.filter { $0.id % 3 != 2 }.count)
        )
        let status = try ServeCommandTests.curl([
            "-H", "Content-Type: application/json", "-d",
            String(decoding: try JSONSerialization.data(withJSONObject: ["vector": query]), as: UTF8.self),
            "http://127.0.0.1:\(strict.httpPort)/v1/search",
        ])
        #expect(status.status == 503)
        let partialHTTP = try ServeCommandTests.curl([
            "-H", "Content-Type: application/json", "-d",
            String(decoding: try JSONSerialization.data(withJSONObject: ["vector": query]), as: UTF8.self),
            "http://127.0.0.1:\(lenient.httpPort)/v1/search",
        ])
        #expect(partialHTTP.status == 200)
        #expect((try JSONSerialization.jsonObject(with: partialHTTP.body) as? [String: Any])?["partial"] as? Bool == true)

        // It comes back on the same ports: full answers again.
        servers[2] = try ServerProcess(["serve", Self.shards[2], "--port", String(shardHTTP), "--tcp-port", String(shardPort)])
        var recovered = false
        for _ in 0..<50 where !recovered {
            if let answer = try? await strictClient.search(query, k: 10), answer.neighbors == full.neighbors, !answer.partial {
                recovered = true
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(recovered)
        let again = try await lenientClient.search(query, k: 10)
        #expect(!again.partial && again.neighbors == full.neighbors)
        await strictClient.close()
        await lenientClient.close()
    }

    @Test func routeRefusesBadShardLists() throws {
        let result = try CLI.run(["route", "--shards", "nohost", "--port", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--shards"))
    }
}
