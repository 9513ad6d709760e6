import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Swann
import SwannTestSupport
import Testing

/// Durability proven by killing: `swann serve` takes `wait=true` upserts and deletes from four
/// clients and is SIGKILLed at 20 random moments (small checkpoint limit, so some kills land in
/// checkpoints); after each restart every acknowledged upsert is there (GET returns it, search
/// finds it) and no acknowledged delete is.
@Suite(.serialized)
struct CrashRecoveryTests {
    static let rows: [[Float]] = {
        let matrix = try! VectorFile(path: BundledExample.base).readVectors()
        return (0..<matrix.count).map { matrix.floats(at: $0) }
    }()

    /// What the clients were told, and what was in flight (either outcome is allowed) when the
    /// server died.
    struct Ledger {
        var upserted: [UInt64: [Float]] = [:]
        var deleted: Set<UInt64> = []
        var uncertain: Set<UInt64> = []
        /// Ids acknowledged since the last restart's check.
        var recent: Set<UInt64> = []
    }

    final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var ledger = Ledger()
        func record(_ body: (inout Ledger) -> Void) { lock.withLock { body(&ledger) } }
    }

    @Test func acknowledgedWritesSurviveSIGKILL() async throws {
        let directory = CLI.temporaryDirectory()
        let index = directory + "/crash.swann"
        let built = try CLI.run(["build", BundledExample.base, "--output", index])
        #expect(built.status == 0, "\(built.stderr)")
        let client = HTTPClient.shared
        let shared = Shared()
        var rng = SystemRandomNumberGenerator()
        var checkpoints = 0
        for round in 0..<20 {
            let server = try ServerProcess([
                "serve", index, "--port", "0", "--no-tcp", "--checkpoint-bytes", "256KiB",
            ])
            let base = "http://127.0.0.1:\(server.httpPort)"
            // Everything acknowledged before the last kill, and a sample of what came before.
            try await Self.verify(shared.ledger, only: shared.ledger.recent, sample: 200, base: base, client: client, round: round)
            shared.record { $0.recent = [] }
            let pid = server.process.processIdentifier
            try await Self.writeUntilKilled(base: base, round: round, shared: shared, after: .milliseconds(Int.random(in: 200...1_500, using: &rng)))
            {
                kill(pid, SIGKILL)
            }
            server.process.waitUntilExit()
            #expect(server.process.terminationReason == .uncaughtSignal)
            if !FileManager.default.fileExists(atPath: index + "/wal.log")
                || (try? Data(contentsOf: URL(fileURLWithPath: index + "/wal.log")).count) == 32
            {
                checkpoints += 1
            }
        }
        let server = try ServerProcess(["serve", index, "--port", "0", "--no-tcp"])
        try await Self.verify(shared.ledger, only: nil, sample: 0, base: "http://127.0.0.1:\(server.httpPort)", client: client, round: 20)
        #expect(server.stop().0 == 0)
        #expect(shared.ledger.upserted.count > 100, "too few writes were acknowledged to prove anything")
        print(
            "crash recovery: \(shared.ledger.upserted.count) upserts and \(shared.ledger.deleted.count) deletes acknowledged over 20 kills; \(checkpoints) kills left a log just checkpointed"
        )
    }

    /// SIGKILL inside checkpoints that split, merge and reassign: an index of 2,000 rows grows
    /// to 6,800 (splits) and shrinks to 800 (merges); each of 29 rounds writes, starts a
    /// checkpoint and kills the server at a random point before it answers. After every restart each acknowledged
    /// write is there and each acknowledged delete is not; at the end every file passes its
    /// checksums and every vector is in exactly the lists a verification expects.
    @Test func acknowledgedWritesSurviveSIGKILLDuringRebalancing() async throws {
        let directory = CLI.temporaryDirectory()
        let first = directory + "/first.fbin"
        try VectorFileWriter.write(try VectorMatrix.from(Array(Self.rows[0..<2_000])), to: first)
        let index = directory + "/rebalance.swann"
        let built = try CLI.run(["build", first, "--output", index])
        #expect(built.status == 0, "\(built.stderr)")
        let client = HTTPClient.shared
        var ledger = Ledger()
        for id in 0..<UInt64(2_000) { ledger.upserted[id] = Self.rows[Int(id)] }
        var next = 2_000
        var live = (0..<UInt64(2_000)).map { $0 }
        var rng = SplitMix64(seed: 17)
        var killedInside = 0
        var writesDuringCheckpoints = 0
        var checkpointSeconds = 0.3
        for round in 0..<30 {
            let server = try ServerProcess(["serve", index, "--port", "0", "--no-tcp"])
            let base = "http://127.0.0.1:\(server.httpPort)"
            // The write in flight at the last kill may or may not have been stored; settle it.
            for id in ledger.uncertain {
                let (status, body) = try await Self.get(base + "/v1/points/\(id)", client: client)
                if status == 200 {
                    ledger.upserted[id] = ((try JSONSerialization.jsonObject(with: body) as! [String: Any])["vector"] as! [Double]).map(Float.init)
                    live.append(id)
                }
            }
            ledger.uncertain = []
            try await Self.verify(ledger, only: ledger.recent, sample: 100, base: base, client: client, round: round)
            ledger.recent = []
            // Growth for 12 rounds, then deletes outpace upserts by enough that lists shrink
            // below the merge threshold however many streamed writes the kills let through (with
            // 350 a round, a run whose kills came late kept 3,036 live vectors and merged none).
            let (adds, deletes) = round < 12 ? (400, 50) : (50, 500)
            var points: [String] = []
            for _ in 0..<adds {
                let id = UInt64(100_000 + next)
                let vector = Self.rows[next % Self.rows.count].map { Float(Float16($0 + 0.01)) }
                next += 1
                ledger.upserted[id] = vector
                ledger.recent.insert(id)
                live.append(id)
                points.append(#"{"id": \#(id), "vector": [\#(vector.map { "\($0)" }.joined(separator: ","))]}"#)
            }
            #expect(
                try await Self.send(base + "/v1/points?wait=true", method: .PUT, body: #"{"points": [\#(points.joined(separator: ","))]}"#) == 200
            )
            var doomed: [UInt64] = []
            for _ in 0..<deletes where live.count > 100 {
                doomed.append(live.remove(at: Int(rng.next() % UInt64(live.count))))
            }
            #expect(
                try await Self.send(
                    base + "/v1/points/delete?wait=true",
                    method: .POST,
                    body: #"{"points": [\#(doomed.map(String.init).joined(separator: ","))]}"#
                ) == 200
            )
            for id in doomed {
                ledger.upserted[id] = nil
                ledger.deleted.insert(id)
                ledger.recent.insert(id)
            }
            // A checkpoint, killed at a random point of it (the first round measures its length).
            let clock = ContinuousClock()
            let started = clock.now
            let checkpoint = Task { try? await Self.send(base + "/v1/admin/checkpoint", method: .POST, body: "{}") }
            if round == 0 {
                #expect(await checkpoint.value == 200)
                checkpointSeconds = max(0.05, (clock.now - started).seconds)
                #expect(server.stop().0 == 0)
                continue
            }
            // Single-point writes go on while the checkpoint runs (it does not hold them), until
            // the kill: the kill lands in the checkpoint's computation, its log tail or its swap.
            let during = Shared()
            let firstID = UInt64(1_000_000 + round * 10_000)
            let streaming = Task {
                // Rows offset per round, so that no row is written more than a few times over
                // (a search for one of many identical vectors need not return that id).
                for id in firstID..<firstID + 1_000 {
                    let vector = Self.rows[(3_000 + round * 1_000 + Int(id - firstID)) % Self.rows.count].map { Float(Float16($0 + 0.02)) }
                    during.record { $0.uncertain.insert(id) }
                    let body = #"{"points": [{"id": \#(id), "vector": [\#(vector.map { "\($0)" }.joined(separator: ","))]}]}"#
                    guard (try? await Self.send(base + "/v1/points?wait=true", method: .PUT, body: body)) == 200 else { return }
                    during.record {
                        $0.uncertain.remove(id)
                        $0.upserted[id] = vector
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(Int(Double(rng.next() % 500) / 1_000 * checkpointSeconds * 1_000)))
            kill(server.process.processIdentifier, SIGKILL)
            server.process.waitUntilExit()
            await streaming.value
            // No answer: the server died inside the checkpoint.
            let diedInside = await checkpoint.value == nil
            if diedInside {
                killedInside += 1
                writesDuringCheckpoints += during.ledger.upserted.count
            }
            for (id, vector) in during.ledger.upserted {
                ledger.upserted[id] = vector
                ledger.recent.insert(id)
                live.append(id)
            }
            ledger.uncertain.formUnion(during.ledger.uncertain)
        }
        let server = try ServerProcess(["serve", index, "--port", "0", "--no-tcp"])
        for id in ledger.uncertain {
            let (status, body) = try await Self.get("http://127.0.0.1:\(server.httpPort)/v1/points/\(id)", client: client)
            if status == 200 {
                ledger.upserted[id] = ((try JSONSerialization.jsonObject(with: body) as! [String: Any])["vector"] as! [Double]).map(Float.init)
                live.append(id)
            }
        }
        ledger.uncertain = []
        try await Self.verify(ledger, only: nil, sample: 0, base: "http://127.0.0.1:\(server.httpPort)", client: client, round: 30)
        // The last checkpoint brings the centroids to their target: the longest of all (seconds
        // in release, over 15 minutes unoptimised on two cores).
        #if DEBUG
        let lastCheckpointDeadline = TimeAmount.seconds(3_600)
        #else
        let lastCheckpointDeadline = TimeAmount.seconds(900)
        #endif
        #expect(
            try await Self.send(
                "http://127.0.0.1:\(server.httpPort)/v1/admin/checkpoint",
                method: .POST,
                body: "{}",
                timeout: lastCheckpointDeadline
            ) == 200
        )
        #expect(server.stop().0 == 0)
        let verified = try CLI.run(["info", index, "--verify"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let manifest = try Index.open(at: index).manifest
        #expect(manifest.vectorCount == live.count)
        let rebalanced = try #require(manifest.rebalanced)
        #expect(rebalanced.splits > 0 && rebalanced.merges > 0, "\(rebalanced)")
        #expect(killedInside >= 20, "only \(killedInside) of 29 kills landed inside a checkpoint")
        #expect(writesDuringCheckpoints > 0, "no write was acknowledged while a checkpoint ran")
        print(
            "kills during rebalancing: \(killedInside) of 29 inside a checkpoint (each \(String(format: "%.2f", checkpointSeconds)) s), \(writesDuringCheckpoints) writes acknowledged during them; \(live.count) live vectors verified; \(rebalanced)"
        )
    }

    /// Sends a JSON request; returns the status (throws when the server is gone).
    static func send(_ url: String, method: HTTPMethod, body: String, timeout: TimeAmount = .seconds(60)) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            _ = try await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        } catch {
            throw RequestFailed(request: "\(method) \(url)", underlying: error)
        }
    }

    @Test func acknowledgedWritesThroughTheRouterSurviveSIGKILLOfShards() async throws {
        // The same writes through `swann route` over 3 writable shards; at each of 20 random
        // moments one shard, chosen at random, is SIGKILLed and restarted on its ports.
        let directory = CLI.temporaryDirectory()
        let paths = try (0..<3).map { i in
            let path = directory + "/shard-\(i).swann"
            let built = try CLI.run(["build", BundledExample.base, "--output", path, "--shard", "\(i)/3"])
            #expect(built.status == 0, "\(built.stderr)")
            return path
        }
        func serve(_ i: Int, http: Int = 0, tcp: Int = 0) throws -> ServerProcess {
            try ServerProcess(["serve", paths[i], "--port", String(http), "--tcp-port", String(tcp), "--checkpoint-bytes", "256KiB"])
        }
        var shards = try (0..<3).map { try serve($0) }
        defer { for shard in shards { _ = shard.stop() } }
        let router = try ServerProcess([
            "route", "--shards", shards.map { "127.0.0.1:\($0.tcpPort)" }.joined(separator: ","),
            "--port", "0", "--no-tcp", "--shard-timeout", "10", "--health-interval", "0.2",
        ])
        defer { _ = router.stop() }
        let base = "http://127.0.0.1:\(router.httpPort)"
        let client = HTTPClient.shared
        let shared = Shared()
        var rng = SystemRandomNumberGenerator()
        var killed = [0, 0, 0]
        for round in 0..<20 {
            let victim = Int.random(in: 0..<3, using: &rng)
            let pid = shards[victim].process.processIdentifier
            try await Self.writeUntilKilled(base: base, round: round, shared: shared, after: .milliseconds(Int.random(in: 200...1_500, using: &rng)))
            {
                kill(pid, SIGKILL)
            }
            shards[victim].process.waitUntilExit()
            #expect(shards[victim].process.terminationReason == .uncaughtSignal)
            killed[victim] += 1
            shards[victim] = try serve(victim, http: shards[victim].httpPort, tcp: shards[victim].tcpPort)
            // The router takes the shard back within a few health checks.
            var back = false
            for _ in 0..<100 where !back {
                let (status, _) = try await Self.get(base + "/v1/points/\(victim)", client: client)
                back = status == 200 || status == 404
                if !back { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(back, "round \(round): the router did not take shard \(victim) back")
            try await Self.verify(shared.ledger, only: shared.ledger.recent, sample: 200, base: base, client: client, round: round)
            shared.record { $0.recent = [] }
        }
        try await Self.verify(shared.ledger, only: nil, sample: 0, base: base, client: client, round: 20)
        // Each id is held by its owner only.
        let ids = Array(shared.ledger.upserted.keys.filter { !shared.ledger.uncertain.contains($0) }.prefix(30))
        for id in ids {
            for (i, shard) in shards.enumerated() {
                let (status, _) = try await Self.get("http://127.0.0.1:\(shard.httpPort)/v1/points/\(id)", client: client)
                #expect(status == (Int(id % 3) == i ? 200 : 404), "upsert \(id) on shard \(i)")
            }
        }
        #expect(shared.ledger.upserted.count > 100, "too few writes were acknowledged to prove anything")
        print(
            "crash recovery through the router: \(shared.ledger.upserted.count) upserts and \(shared.ledger.deleted.count) deletes acknowledged over 20 shard kills (\(killed) per shard)"
        )
    }

    /// Four clients, each with its own ids, send `wait=true` upserts of fresh ids and deletes of
    /// their own base ids to `base` until `kill` (called after `delay`) makes a request fail;
    /// the ledger records what was acknowledged and what was in flight.
    static func writeUntilKilled(
        base: String,
        round: Int,
        shared: Shared,
        after delay: Duration,
        kill: @escaping @Sendable () -> Void
    ) async throws {
        let client = HTTPClient.shared
        let deadline = ContinuousClock.now + delay
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<4 {
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    var sequence = 0
                    while true {
                        sequence += 1
                        let upsert = Bool.random(using: &generator)
                        let id: UInt64
                        let body: String
                        let vector: [Float]
                        if upsert {
                            id = UInt64(1_000_000 * (c + 1) + round * 10_000 + sequence)
                            let row = Self.rows[Int.random(in: 0..<Self.rows.count, using: &generator)]
                            vector = row.map { Float(Float16($0 + Float.random(in: -0.05...0.05, using: &generator))) }
                            body = #"{"points": [{"id": \#(id), "vector": [\#(vector.map { "\($0)" }.joined(separator: ","))]}]}"#
                        } else {
                            id = UInt64(4 * (round * 200 + sequence) + c)
                            guard id < 10_000 else { continue }
                            vector = []
                            body = #"{"points": [\#(id)]}"#
                        }
                        shared.record { $0.uncertain.insert(id) }
                        var request = HTTPClientRequest(url: base + (upsert ? "/v1/points?wait=true" : "/v1/points/delete?wait=true"))
                        request.method = upsert ? .PUT : .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: body))
                        guard let response = try? await client.execute(request, timeout: .seconds(5)), response.status == .ok else {
                            return  // the server (or the id's shard) is gone: this id stays uncertain
                        }
                        shared.record { ledger in
                            ledger.uncertain.remove(id)
                            if upsert { ledger.upserted[id] = vector } else { ledger.deleted.insert(id) }
                            ledger.recent.insert(id)
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(until: deadline)
                kill()
            }
            try await group.waitForAll()
        }
    }

    /// Acknowledged upserts read back and are found by search; acknowledged deletes are gone.
    /// Checks the ids in `only` and `sample` others at random, or every id when `only` is nil.
    static func verify(_ ledger: Ledger, only: Set<UInt64>?, sample: Int, base: String, client: HTTPClient, round: Int) async throws {
        var checked = only ?? Set(ledger.upserted.keys).union(ledger.deleted)
        checked.formUnion(Set(ledger.upserted.keys).union(ledger.deleted).shuffled().prefix(sample))
        checked.subtract(ledger.uncertain)
        for (id, vector) in ledger.upserted where checked.contains(id) {
            let (status, body) = try await get(base + "/v1/points/\(id)", client: client)
            #expect(status == 200, "round \(round): acknowledged upsert \(id) is missing")
            if status == 200 {
                let stored = (try JSONSerialization.jsonObject(with: body) as! [String: Any])["vector"] as! [Double]
                #expect(stored.map(Float.init) == vector, "round \(round): upsert \(id) reads back another vector")
            }
        }
        for (id, vector) in ledger.upserted.filter({ checked.contains($0.key) }).prefix(30) {
            var request = HTTPClientRequest(url: base + "/v1/search")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"vector": [\#(vector.map { "\($0)" }.joined(separator: ","))], "k": 10}"#))
            let response = try await client.execute(request, timeout: .seconds(10))
            let data = Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
            let results = (try JSONSerialization.jsonObject(with: data) as! [String: Any])["results"] as! [[String: Any]]
            #expect(results.contains { ($0["id"] as? NSNumber)?.uint64Value == id }, "round \(round): search does not find upsert \(id)")
        }
        for id in ledger.deleted where checked.contains(id) {
            let (status, _) = try await get(base + "/v1/points/\(id)", client: client)
            #expect(status == 404, "round \(round): acknowledged delete \(id) is back")
        }
    }

    static func get(_ url: String, client: HTTPClient) async throws -> (Int, Data) {
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            return (Int(response.status.code), Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView))
        } catch {
            throw RequestFailed(request: "GET \(url)", underlying: error)
        }
    }

    /// A request that got no answer, named (a bare `deadlineExceeded` says not which one).
    struct RequestFailed: Error, CustomStringConvertible {
        var request: String
        var underlying: any Error
        var description: String { "\(request): \(underlying)" }
    }
}
