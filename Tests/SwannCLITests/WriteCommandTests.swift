import Foundation
import Swann
import SwannTestSupport
import Testing

/// `swann upsert` and `swann delete` on an index that is not served, and the one-writer rule
/// across processes (the POSIX lock on wal.log).
@Suite(.serialized)
struct WriteCommandTests {
    @Test func aCheckpointThatRunsOutOfFileSpaceLeavesTheIndexServingAndWritable() async throws {
        // Under RLIMIT_FSIZE 2 MiB the example's files open (reading is not limited) and the log
        // takes small writes, but a checkpoint cannot write postings.bin: it fails with the file
        // named, the index directory is unchanged, and searches, reads and writes go on.
        let directory = CLI.temporaryDirectory()
        let index = directory + "/full.swann"
        try FileManager.default.copyItem(atPath: BundledExample.index, toPath: index)
        let manifest = try Data(contentsOf: URL(fileURLWithPath: index + "/manifest.json"))
        let server = try ServerProcess(["serve", index, "--port", "0", "--no-tcp"], fileSizeLimitKiB: 2_048)
        defer { _ = server.stop() }
        let base = "http://127.0.0.1:\(server.httpPort)"
        func put(_ id: Int, row: Int) throws -> Int {
            let body = String(
                decoding: try JSONSerialization.data(withJSONObject: ["points": [["id": id, "vector": BundledExample.queryRows[row]]]]),
                as: UTF8.self
            )
            return try ServeCommandTests.curl(["-X", "PUT", "-H", "Content-Type: application/json", "-d", body, base + "/v1/points?wait=true"]).status
        }
        #expect(try put(50_000, row: 0) == 200)
        let checkpoint = try ServeCommandTests.curl(["-X", "POST", base + "/v1/admin/checkpoint"])
        #expect(checkpoint.status == 500)
        #expect(String(decoding: checkpoint.body, as: UTF8.self).contains("File too large"), "\(String(decoding: checkpoint.body, as: UTF8.self))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: index + "/manifest.json")) == manifest)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["full.swann"], "no half-written checkpoint is left")
        // Still serving and writable.
        #expect(try put(50_001, row: 1) == 200)
        #expect(try ServeCommandTests.curl([base + "/v1/points/50000"]).status == 200)
        let search = try ServeCommandTests.curl([
            "-H", "Content-Type: application/json", "-d",
            String(decoding: try JSONSerialization.data(withJSONObject: ["vector": BundledExample.queryRows[1], "k": 1]), as: UTF8.self),
            base + "/v1/search",
        ])
        #expect(search.status == 200)
        #expect(String(decoding: search.body, as: UTF8.self).contains("50001"))
        // Without the limit, a restart replays both writes.
        _ = server.stop()
        let live = try LiveIndex.open(at: index)
        #expect(live.count == 10_002)
        #expect(live.replayedRecords == 2)
    }

    @Test func aLogThatRunsOutOfFileSpaceRefusesWritesAndKeepsServing() async throws {
        // Under RLIMIT_FSIZE 512 KiB the log takes a few batches of 40 points (~64 KiB each),
        // then its write fails: that write and every later one is refused (5xx, nothing
        // acknowledged that is not on disk), searches go on, and a restart without the limit
        // finds exactly the acknowledged writes. (Not smaller: a ThreadSanitizer build maps a
        // ~200 KiB file of its own at start and dies of SIGBUS under a lower limit.)
        let directory = CLI.temporaryDirectory()
        let index = directory + "/full-log.swann"
        try FileManager.default.copyItem(atPath: BundledExample.index, toPath: index)
        let server = try ServerProcess(["serve", index, "--port", "0", "--no-tcp"], fileSizeLimitKiB: 512)
        defer { _ = server.stop() }
        let base = "http://127.0.0.1:\(server.httpPort)"
        let batch = 40
        var acknowledged: [Int] = []
        var refused = 0
        for n in 0..<20 {
            let ids = 60_000 + n * batch..<60_000 + (n + 1) * batch
            let points = ids.map { ["id": $0, "vector": BundledExample.queryRows[$0 - 60_000]] }
            // The body goes through a file: 40 rows as JSON pass the length of one argument.
            let body = directory + "/batch.json"
            try JSONSerialization.data(withJSONObject: ["points": points]).write(to: URL(fileURLWithPath: body))
            let status = try ServeCommandTests.curl([
                "-X", "PUT", "-H", "Content-Type: application/json", "--data-binary", "@" + body, base + "/v1/points?wait=true",
            ])
            .status
            if status == 200 {
                #expect(refused == 0, "a write was acknowledged after one was refused")
                acknowledged += ids
            } else {
                #expect(status >= 500, "status \(status)")
                refused += 1
            }
        }
        #expect(!acknowledged.isEmpty && refused > 0, "acknowledged \(acknowledged.count), refused \(refused)")
        let search = try ServeCommandTests.curl([
            "-H", "Content-Type: application/json", "-d",
            String(decoding: try JSONSerialization.data(withJSONObject: ["vector": BundledExample.queryRows[0], "k": 1]), as: UTF8.self),
            base + "/v1/search",
        ])
        #expect(search.status == 200)
        _ = server.stop()
        let live = try LiveIndex.open(at: index)
        #expect(live.count == 10_000 + acknowledged.count)
        for id in acknowledged { #expect(try await live.vector(id: UInt64(id)) != nil) }
    }

    @Test func upsertThenDeleteFromTheCommandLine() throws {
        let directory = CLI.temporaryDirectory()
        let index = directory + "/cli.swann"
        try FileManager.default.copyItem(atPath: BundledExample.index, toPath: index)
        // The example's 1,000 queries, under the ids after the largest (10,000…10,999).
        let upserted = try CLI.run(["upsert", index, BundledExample.queries])
        #expect(upserted.status == 0, "\(upserted.stderr)")
        #expect(upserted.stdout.contains("10000…10999"), "\(upserted.stdout)")
        let ids = directory + "/ids.txt"
        try "10000\n10001\n42\n77777777\n".write(toFile: ids, atomically: true, encoding: .utf8)
        let deleted = try CLI.run(["delete", index, "--ids", ids, "--checkpoint"])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout.contains("deleted 3 of 4 ids"), "\(deleted.stdout)")

        let live = try LiveIndex.open(at: index, access: .readOnly)
        #expect(live.count == 10_000 + 1_000 - 3)
        let hit = try live.search(BundledExample.queryRows[5], k: 1)
        #expect(hit.first?.id == 10_005, "an upserted query finds itself")
        #expect(try live.search(BundledExample.queryRows[0], k: 10).allSatisfy { $0.id != 10_000 })
    }

    @Test func aSecondWriterIsRefusedWhileTheServerHoldsTheIndex() throws {
        let directory = CLI.temporaryDirectory()
        let index = directory + "/locked.swann"
        try FileManager.default.copyItem(atPath: BundledExample.index, toPath: index)
        let server = try ServerProcess(["serve", index, "--port", "0", "--no-tcp"])
        let refused = try CLI.run(["upsert", index, BundledExample.queries])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("another process has this index open for writing"), "\(refused.stderr)")
        #expect(refused.stderr.contains(index + "/wal.log"), "\(refused.stderr)")
        let (status, _) = server.stop()
        #expect(status == 0)
        // The lock goes with the process: the command works now.
        let upserted = try CLI.run(["upsert", index, BundledExample.queries])
        #expect(upserted.status == 0, "\(upserted.stderr)")
    }
}
