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

        let client = SwannClient(ClientConfiguration(port: router.tcpPort, timeout: .seconds(30)))
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
        let strictClient = SwannClient(ClientConfiguration(port: strict.tcpPort, timeout: .seconds(30)))
        let lenientClient = SwannClient(ClientConfiguration(port: lenient.tcpPort, timeout: .seconds(30)))
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

    @Test func readYourWritesThroughTheRouterMatchAFreshBuild() async throws {
        // Shards of the example's first 9,000 rows take the last 1,000 as upserts and lose every
        // 18th original row through the router: recall@10 of the routed answers against exact
        // neighbours of that final set is a fresh (unsharded) build's, and no deleted id is returned.
        let example = try VectorFile(path: BundledExample.base).readVectors()
        let rows = (0..<example.count).map { example.floats(at: $0) }
        let directory = CLI.temporaryDirectory()
        try VectorFileWriter.write(try VectorMatrix.from(Array(rows[0..<9_000]), elementType: .float16), to: directory + "/initial.npy")
        let servers = try (0..<3).map { i in
            let path = directory + "/shard-\(i).swann"
            let built = try CLI.run(["build", directory + "/initial.npy", "--output", path, "--shard", "\(i)/3"])
            #expect(built.status == 0, "\(built.stderr)")
            return try ServerProcess(["serve", path, "--port", "0", "--tcp-port", "0"])
        }
        defer { for server in servers { _ = server.stop() } }
        let router = try ServerProcess([
            "route", "--shards", servers.map { "127.0.0.1:\($0.tcpPort)" }.joined(separator: ","), "--port", "0", "--tcp-port", "0",
            "--shard-timeout", "10",
        ])
        defer { _ = router.stop() }
        let client = SwannClient(ClientConfiguration(port: router.tcpPort, timeout: .seconds(30)))
        while (try? await client.indexInfo()) == nil { try await Task.sleep(for: .milliseconds(50)) }
        for start in stride(from: 9_000, to: 10_000, by: 100) {
            #expect(try await client.upsert(ids: (start..<start + 100).map(UInt64.init), vectors: Array(rows[start..<start + 100])) == 100)
        }
        let deleted = Set(stride(from: 0, to: 9_000, by: 18).map(UInt64.init))
        #expect(try await client.delete(ids: Array(deleted)) == deleted.count)
        let finalIDs = (0..<UInt64(10_000)).filter { !deleted.contains($0) }

        try VectorFileWriter.write(try VectorMatrix.from(finalIDs.map { rows[Int($0)] }, elementType: .float16), to: directory + "/final.npy")
        let built = try CLI.run(["build", directory + "/final.npy", "--output", directory + "/fresh.swann"])
        #expect(built.status == 0, "\(built.stderr)")
        let fresh = try Index.open(at: directory + "/fresh.swann")
        let exact = ExactSearch.nearest(
            queries: try VectorMatrix.from(Self.queries, elementType: .float32),
            base: try VectorMatrix.from(finalIDs.map { rows[Int($0)] }, elementType: .float16),
            k: 10,
            metric: .l2
        )
        var routedHits = 0
        var freshHits = 0
        for (q, query) in Self.queries.enumerated() {
            let truth = Set((0..<10).map { Int64(finalIDs[Int(exact.ids[q * 10 + $0])]) })
            let routed = try await client.search(query, k: 10).neighbors.map(\.id)
            #expect(routed.allSatisfy { !deleted.contains(UInt64($0)) }, "query \(q) returned a deleted id")
            routedHits += routed.filter(truth.contains).count
            freshHits += try fresh.search(query, k: 10).map { Int64(finalIDs[Int($0.id)]) }.filter(truth.contains).count
        }
        let (routedRecall, freshRecall) = (Double(routedHits) / Double(10 * Self.queries.count), Double(freshHits) / Double(10 * Self.queries.count))
        #expect(routedRecall >= freshRecall - 0.01, "routed \(routedRecall) vs fresh build \(freshRecall)")
        print("read-your-writes through the router: recall@10 \(routedRecall), fresh build of the final set \(freshRecall)")
        await client.close()
    }

    @Test func writesThroughTheRouterReachTheShardThatOwnsEachID() async throws {
        let directory = CLI.temporaryDirectory()
        let copies = try Self.shards.enumerated().map { shard, path in
            let copy = directory + "/writable-\(shard).swann"
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            return copy
        }
        let servers = try copies.map { try ServerProcess(["serve", $0, "--port", "0", "--tcp-port", "0"]) }
        defer { for server in servers { _ = server.stop() } }
        // Listed backwards: which shard owns what comes from the shards' manifests, not the order.
        let endpoints = servers.reversed().map { "127.0.0.1:\($0.tcpPort)" }.joined(separator: ",")
        let router = try ServerProcess(["route", "--shards", endpoints, "--port", "0", "--tcp-port", "0", "--shard-timeout", "10"])
        defer { _ = router.stop() }
        let client = SwannClient(ClientConfiguration(port: router.tcpPort, timeout: .seconds(30)))
        let shardClients = servers.map { SwannClient(ClientConfiguration(port: $0.tcpPort, timeout: .seconds(30))) }
        while (try? await client.indexInfo()) == nil { try await Task.sleep(for: .milliseconds(50)) }

        let rows = Array(BundledExample.queryRows[0..<30])
        let ids = (0..<30).map { UInt64(50_000 + $0) }
        #expect(try await client.upsert(ids: ids, vectors: rows) == 30)
        for (i, id) in ids.enumerated() {
            let owner = Int(id % 3)
            let stored = try await shardClients[owner].point(id: id)
            #expect(stored != nil, "shard \(owner) owns id \(id)")
            for other in 0..<3 where other != owner {
                #expect(try await shardClients[other].point(id: id) == nil, "shard \(other) holds id \(id)")
            }
            #expect(try await client.point(id: id) == stored)
            #expect(try await client.search(rows[i], k: 1).neighbors.first?.id == Int64(id))
        }
        // The router's description follows the shards' counts at its next health check.
        let deadline = ContinuousClock.now + .seconds(10)
        while try await client.indexInfo().vectorCount != 10_030, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await client.indexInfo().vectorCount == 10_030)

        #expect(try await client.delete(ids: Array(ids[0..<15]) + [9_999_999]) == 15)
        for (i, id) in ids.enumerated().prefix(15) {
            #expect(try await client.point(id: id) == nil)
            #expect(!(try await client.search(rows[i], k: 10).neighbors.map(\.id)).contains(Int64(id)))
        }

        // Over HTTP too, and a bad point refuses the batch before any shard is written.
        let vector = rows[20].map { Double($0) }
        let put = try ServeCommandTests.curl([
            "-X", "PUT", "-H", "Content-Type: application/json", "-d",
            String(decoding: try JSONSerialization.data(withJSONObject: ["points": [["id": 70_001, "vector": vector]]]), as: UTF8.self),
            "http://127.0.0.1:\(router.httpPort)/v1/points",
        ])
        #expect(put.status == 200, "\(String(decoding: put.body, as: UTF8.self))")
        #expect(try ServeCommandTests.curl(["http://127.0.0.1:\(router.httpPort)/v1/points/70001"]).status == 200)
        let bad = try ServeCommandTests.curl([
            "-X", "PUT", "-H", "Content-Type: application/json", "-d",
            String(
                decoding: try JSONSerialization.data(withJSONObject: [
                    "points": [["id": 70_002, "vector": vector], ["id": 70_003, "vector": Array(vector.prefix(3))]]
                ]),
                as: UTF8.self
            ),
            "http://127.0.0.1:\(router.httpPort)/v1/points",
        ])
        #expect(bad.status == 400)
        #expect(try await client.point(id: 70_002) == nil)

        // A shard refuses an id it does not own: writes cannot bypass the partition.
        do throws(SwannClientError) {
            try await shardClients[0].upsert(ids: [50_002], vectors: [rows[2]])
            Issue.record("shard 0 stored an id of shard 1")
        } catch {
            #expect(error.code == .server(.invalidQuery))
            #expect(error.message.contains("belongs to shard 1 of 3"), "\(error)")
        }
        await client.close()
        for shard in shardClients { await shard.close() }
    }

    @Test func routeRefusesBadShardLists() throws {
        let result = try CLI.run(["route", "--shards", "nohost", "--port", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--shards"))
    }
}
