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
            // Four clients, each with its own ids: fresh upserts and deletes of its own base ids.
            let pid = server.process.processIdentifier
            let deadline = ContinuousClock.now + .milliseconds(Int.random(in: 200...1_500, using: &rng))
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
                                return  // the server is gone: this id stays uncertain
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
                    kill(pid, SIGKILL)
                }
                try await group.waitForAll()
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
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        return (Int(response.status.code), Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView))
    }
}
