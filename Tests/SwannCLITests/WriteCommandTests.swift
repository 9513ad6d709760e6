import Foundation
import Swann
import SwannTestSupport
import Testing

/// `swann upsert` and `swann delete` on an index that is not served, and the one-writer rule
/// across processes (the POSIX lock on wal.log).
@Suite(.serialized)
struct WriteCommandTests {
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
