import Foundation
import Swann
import SwannStorage
import SwannTestSupport
import Testing

/// Writes on a live index: read-your-writes recall against a fresh build of the same final set,
/// deletes never returned, replay of the log at open, checkpoints, reading vectors back.
@Suite(.serialized)
struct LiveIndexTests {
    static let example = try! VectorFile(path: BundledExample.base).readVectors()
    static let rows: [[Float]] = (0..<example.count).map { example.floats(at: $0) }
    static let initial = 9_000

    /// An index of the first `initial` rows (user ids = row numbers) in a fresh directory.
    static func initialIndex(_ options: IndexBuilder.Options = IndexBuilder.Options()) throws -> String {
        let directory = TestDirectory.make("live")
        let input = directory + "/initial.npy"
        try VectorFileWriter.write(try VectorMatrix.from(Array(rows[0..<initial]), elementType: .float16), to: input)
        let path = directory + "/live.swann"
        try IndexBuilder(options: options).build(from: try VectorFile(path: input), to: path)
        return path
    }

    /// Recall@10 of `search` over the example's queries against exact neighbours among `ids`.
    static func recall(ids: [UInt64], search: ([Float]) throws -> [Int64]) throws -> (recall: Double, returned: Set<Int64>) {
        let finalRows = try VectorMatrix.from(ids.map { rows[Int($0)] }, elementType: .float16)
        let exact = ExactSearch.nearest(queries: IndexFixture.queries, base: finalRows, k: 10, metric: .l2)
        var hits = 0
        var returned = Set<Int64>()
        for q in 0..<IndexFixture.queries.count {
            let truth = Set((0..<10).map { Int64(ids[Int(exact.ids[q * 10 + $0])]) })
            let got = try search(BundledExample.queryRows[q])
            returned.formUnion(got)
            hits += got.prefix(10).filter(truth.contains).count
        }
        return (Double(hits) / Double(10 * IndexFixture.queries.count), returned)
    }

    /// Write options under which these writes start no checkpoint by themselves (the 11% growth
    /// would: `RebalanceStatus.Reason.centroidCount`), so the log's replay is what is tested.
    static var noAutomaticCheckpoint: LiveIndex.WriteOptions {
        var options = LiveIndex.WriteOptions()
        options.rebalance.surplusFraction = 1
        return options
    }

    @Test func readYourWritesMatchesAFreshBuildAndDeletesStayDeleted() async throws {
        let path = try Self.initialIndex()
        let index = try LiveIndex.open(at: path, writeOptions: Self.noAutomaticCheckpoint)
        for start in stride(from: Self.initial, to: Self.rows.count, by: 100) {
            let points = (start..<min(start + 100, Self.rows.count)).map { Point(id: UInt64($0), vector: Self.rows[$0]) }
            try await index.upsert(points)
        }
        let deleted = Set(stride(from: 0, to: Self.initial, by: 18).map(UInt64.init))
        try await index.delete(Array(deleted))
        let finalIDs = (0..<UInt64(Self.rows.count)).filter { !deleted.contains($0) }
        #expect(index.count == finalIDs.count)

        let live = try Self.recall(ids: finalIDs) { query in try index.search(query, k: 10).map(\.id) }
        #expect(live.returned.isDisjoint(with: deleted.map { Int64($0) }))

        // A fresh build of the same final set, searched at the same (default) parameters.
        let directory = TestDirectory.make("fresh")
        try VectorFileWriter.write(try VectorMatrix.from(finalIDs.map { Self.rows[Int($0)] }, elementType: .float16), to: directory + "/final.npy")
        try IndexBuilder(options: IndexBuilder.Options()).build(from: try VectorFile(path: directory + "/final.npy"), to: directory + "/fresh.swann")
        let fresh = try Index.open(at: directory + "/fresh.swann")
        let rebuilt = try Self.recall(ids: finalIDs) { query in try fresh.search(query, k: 10).map { Int64(finalIDs[Int($0.id)]) } }
        #expect(live.recall >= rebuilt.recall - 0.01, "live \(live.recall) vs fresh build \(rebuilt.recall)")
        #expect(live.recall >= 0.9)
        print("read-your-writes recall@10: live \(live.recall), fresh build of the final set \(rebuilt.recall)")

        // Reopening replays the log into the same answers.
        let before = try BundledExample.queryRows.prefix(50).map { try index.search($0, k: 10) }
        let reopened = try LiveIndex.open(at: path)
        #expect(reopened.replayedRecords == 11)
        #expect(reopened.count == finalIDs.count)
        #expect(try BundledExample.queryRows.prefix(50).map { try reopened.search($0, k: 10) } == before)

        // A checkpoint folds everything into new files and empties the log.
        try await reopened.checkpoint()
        #expect(reopened.overlayRows == 0)
        #expect(reopened.index.count == finalIDs.count)
        let checkpointed = try Self.recall(ids: finalIDs) { query in try reopened.search(query, k: 10).map(\.id) }
        #expect(checkpointed.returned.isDisjoint(with: deleted.map { Int64($0) }))
        #expect(checkpointed.recall >= rebuilt.recall - 0.01, "after checkpoint \(checkpointed.recall) vs fresh \(rebuilt.recall)")
        let afterRestart = try LiveIndex.open(at: path)
        #expect(afterRestart.replayedRecords == 0)
        #expect(afterRestart.count == finalIDs.count)
        let opened = try Index.open(at: path)
        #expect(opened.manifest.hasIDMap)
    }

    @Test func anIndexGrownFromATenthByUpsertsEndsCloseToAFullBuild() async throws {
        // 1,000 rows built (160 centroids), 9,000 upserted: checkpoints (started by the growth
        // itself, and one at the end) split lists until the centroid ratio holds again.
        let directory = TestDirectory.make("growth")
        try VectorFileWriter.write(try VectorMatrix.from(Array(Self.rows[0..<1_000]), elementType: .float16), to: directory + "/first.npy")
        let path = directory + "/grown.swann"
        try IndexBuilder(options: IndexBuilder.Options()).build(from: try VectorFile(path: directory + "/first.npy"), to: path)
        let index = try LiveIndex.open(at: path)
        for start in stride(from: 1_000, to: Self.rows.count, by: 500) {
            try await index.upsert((start..<min(start + 500, Self.rows.count)).map { Point(id: UInt64($0), vector: Self.rows[$0]) })
        }
        try await index.checkpoint()
        let manifest = index.index.manifest
        let statistics = try #require(manifest.rebalanced)
        #expect(statistics.splits >= 1_400, "\(statistics.splits) splits")
        #expect(abs(manifest.centroidCount - 1_600) <= 160, "\(manifest.centroidCount) centroids for 10,000 vectors at ratio 0.16")
        #expect(index.rebalanceStatus.deadVectors == 0)
        #expect(index.rebalanceStatus.oversizedLists <= manifest.centroidCount / 100, "\(index.rebalanceStatus)")
        #expect(index.rebalanceStatus.checkpoints >= 2, "the growth itself started checkpoints")
        #expect(index.index.postingLengths.max()! <= manifest.build.assignment.postingLimit)

        let allIDs = (0..<UInt64(Self.rows.count)).map { $0 }
        let grown = try Self.recall(ids: allIDs) { query in try index.search(query, k: 10).map(\.id) }
        let full = try Index.open(at: IndexFixture.examplePath)
        let built = try Self.recall(ids: allIDs) { query in try full.search(query, k: 10).map(\.id) }
        #expect(grown.recall >= built.recall - 0.02, "grown \(grown.recall) vs full build \(built.recall)")
        print("growth from 1,000 to 10,000: recall@10 \(grown.recall) vs full build \(built.recall); \(statistics)")
        // No vector lost or duplicated: each id reads back and is its own vector's nearest.
        for id in stride(from: 0, to: Self.rows.count, by: 37) {
            #expect(try await index.vector(id: UInt64(id)) == Self.rows[id])
            let hits = try index.search(Self.rows[id], k: 2)
            #expect(hits.first?.id == Int64(id) || hits.first?.distance == 0)
            #expect(hits.count < 2 || hits[0].id != hits[1].id)
        }
    }

    /// `--store int8`: written points keep int8 codes for the scan and exact rows for the
    /// re-rank, in memory until a checkpoint writes both (postings.bin and vectors.bin).
    /// `--store rabitq`: written points keep their float32 rows (scanned exactly); a checkpoint
    /// encodes them against their lists' centroids.
    @Test(arguments: [false, true])
    func anIndexOfCodesTakesWritesLikeOneOfFloats(rabitq: Bool) async throws {
        var options = IndexBuilder.Options()
        options.postings = rabitq ? .rabitq : .rows(.int8)
        let path = try Self.initialIndex(options)
        let index = try LiveIndex.open(at: path)
        #expect(index.index.manifest.quantization != nil || rabitq)
        #expect(index.index.manifest.rabitq != nil || !rabitq)
        #expect(try await index.vector(id: 7) == Self.rows[7])
        for start in stride(from: Self.initial, to: Self.rows.count, by: 100) {
            try await index.upsert((start..<min(start + 100, Self.rows.count)).map { Point(id: UInt64($0), vector: Self.rows[$0]) })
        }
        let deleted = Set(stride(from: 0, to: Self.initial, by: 18).map(UInt64.init))
        try await index.delete(Array(deleted))
        let finalIDs = (0..<UInt64(Self.rows.count)).filter { !deleted.contains($0) }
        #expect(try await index.vector(id: 9_500) == Self.rows[9_500])
        #expect(try index.search(Self.rows[9_500], k: 1).first?.id == 9_500)

        let live = try Self.recall(ids: finalIDs) { query in try index.search(query, k: 10).map(\.id) }
        #expect(live.returned.isDisjoint(with: deleted.map { Int64($0) }))
        let directory = TestDirectory.make(rabitq ? "fresh-rabitq" : "fresh-int8")
        try VectorFileWriter.write(try VectorMatrix.from(finalIDs.map { Self.rows[Int($0)] }, elementType: .float16), to: directory + "/final.npy")
        try IndexBuilder(options: options).build(from: try VectorFile(path: directory + "/final.npy"), to: directory + "/fresh.swann")
        let fresh = try Index.open(at: directory + "/fresh.swann")
        let rebuilt = try Self.recall(ids: finalIDs) { query in try fresh.search(query, k: 10).map { Int64(finalIDs[Int($0.id)]) } }
        #expect(live.recall >= rebuilt.recall - 0.01, "live int8 \(live.recall) vs fresh int8 build \(rebuilt.recall)")
        print("\(rabitq ? "rabitq" : "int8") read-your-writes recall@10: live \(live.recall), fresh build of the final set \(rebuilt.recall)")

        // Replay, then a checkpoint writing codes and exact rows; answers and vectors hold.
        let before = try BundledExample.queryRows.prefix(50).map { try index.search($0, k: 10) }
        try await index.closeForWrites()
        let reopened = try LiveIndex.open(at: path)
        #expect(try BundledExample.queryRows.prefix(50).map { try reopened.search($0, k: 10) } == before)
        try await reopened.checkpoint()
        #expect(reopened.overlayRows == 0)
        #expect(reopened.index.manifest.quantization != nil || rabitq)
        #expect(reopened.index.manifest.rabitq != nil || !rabitq)
        #expect(try await reopened.vector(id: 9_500) == Self.rows[9_500])
        #expect(try await reopened.vector(id: 7) == Self.rows[7])
        let checkpointed = try Self.recall(ids: finalIDs) { query in try reopened.search(query, k: 10).map(\.id) }
        #expect(checkpointed.recall >= rebuilt.recall - 0.01, "after checkpoint \(checkpointed.recall) vs fresh \(rebuilt.recall)")
        #expect(checkpointed.returned.isDisjoint(with: deleted.map { Int64($0) }))
        // The files the checkpoint wrote pass the open-time checks of a built index.
        let opened = try Index.open(at: path)
        #expect(opened.count == finalIDs.count)
    }

    @Test func upsertReplacesDeleteHidesAndVectorsReadBack() async throws {
        let path = try Self.initialIndex()
        let index = try LiveIndex.open(at: path)
        // A base vector reads back as stored (float16).
        #expect(try await index.vector(id: 5) == Self.rows[5])
        // Replacing id 5 with row 9,500's vector: searching that vector finds id 5 first, once.
        try await index.upsert([Point(id: 5, vector: Self.rows[9_500])])
        let hits = try index.search(Self.rows[9_500], k: 10)
        #expect(hits.first?.id == 5)
        #expect(hits.filter { $0.id == 5 }.count == 1)
        #expect(try await index.vector(id: 5) == Self.rows[9_500])
        // The old vector of id 5 is gone: searching it no longer returns id 5.
        #expect(!(try index.search(Self.rows[5], k: 10).contains { $0.id == 5 }))
        // A new id far outside the row range.
        try await index.upsert([Point(id: 1 << 40, vector: Self.rows[9_999])], durability: .buffered)
        #expect(try index.search(Self.rows[9_999], k: 1).first?.id == 1 << 40)
        #expect(try await index.delete([1 << 40, 123_456_789]) == 1)
        #expect(try await index.vector(id: 1 << 40) == nil)
        #expect(!(try index.search(Self.rows[9_999], k: 10).contains { $0.id == 1 << 40 }))
        try await index.sync()
        #expect(index.count == Self.initial)
    }

    @Test func aLogOfSinglePointWritesReplaysToTheSameIndex() async throws {
        // Replay assigns runs of upsert records as one batch; the result must be that of the
        // writes one by one, in order: a later upsert of an id wins, a delete between two
        // upserts of an id splits the run.
        let path = try Self.initialIndex()
        let index = try LiveIndex.open(at: path)
        for row in 9_000..<9_300 { try await index.upsert([Point(id: UInt64(row), vector: Self.rows[row])], durability: .buffered) }
        try await index.upsert([Point(id: 9_005, vector: Self.rows[9_500])], durability: .buffered)
        try await index.delete([9_010, 17], durability: .buffered)
        try await index.upsert([Point(id: 9_010, vector: Self.rows[9_600]), Point(id: 17, vector: Self.rows[9_601])], durability: .buffered)
        try await index.upsert((9_300..<9_400).map { Point(id: UInt64($0), vector: Self.rows[$0]) }, durability: .buffered)
        try await index.upsert([Point(id: 9_300, vector: Self.rows[9_700])])
        let queries = Array(BundledExample.queryRows.prefix(100)) + [Self.rows[9_500], Self.rows[9_005], Self.rows[9_600], Self.rows[9_700]]
        let before = try queries.map { try index.search($0, k: 10) }
        try await index.closeForWrites()

        let reopened = try LiveIndex.open(at: path)
        #expect(reopened.replayedRecords == 305)
        #expect(reopened.count == Self.initial + 400)
        #expect(try queries.map { try reopened.search($0, k: 10) } == before)
        #expect(try await reopened.vector(id: 9_005) == Self.rows[9_500])
        #expect(try await reopened.vector(id: 9_010) == Self.rows[9_600])
        #expect(try await reopened.vector(id: 17) == Self.rows[9_601])
        #expect(try await reopened.vector(id: 9_300) == Self.rows[9_700])
        #expect(try reopened.search(Self.rows[9_005], k: 10).contains { $0.id == 9_005 } == false)
    }

    @Test func aRecordThatCannotBeReplayedIsNamed() throws {
        // A log is checked when written, but a log from elsewhere (or a bug) may hold a point
        // the index cannot take: opening names that record instead of skipping it.
        let path = try Self.initialIndex()
        let dimension = Self.rows[0].count
        var bytes = LogFormat.fileHeader(dimension: dimension)
        var bad = Self.rows[9_002]
        bad[1] = .nan
        let records: [LogRecord] = [
            .upsert(ids: [9_000], vectors: Self.rows[9_000]),
            .upsert(ids: [9_001], vectors: Self.rows[9_001]),
            .upsert(ids: [9_002], vectors: bad),
            .upsert(ids: [9_003], vectors: Self.rows[9_003]),
        ]
        for record in records { LogFormat.encode(record, dimension: dimension, into: &bytes) }
        FileManager.default.createFile(atPath: path + "/wal.log", contents: Data(bytes))
        #expect {
            try LiveIndex.open(at: path)
        } throws: { error in
            "\(error)".contains("wal.log") && "\(error)".contains("record 2 cannot be replayed")
        }
    }

    @Test func writesGoOnWhileACheckpointRunsAndSurviveItsSwap() async throws {
        let path = try Self.initialIndex()
        let index = try LiveIndex.open(at: path, writeOptions: Self.noAutomaticCheckpoint)
        try await index.upsert((9_000..<9_500).map { Point(id: UInt64($0), vector: Self.rows[$0]) })
        try await index.delete(Array(stride(from: 0, to: 9_000, by: 20).map(UInt64.init)))

        let checkpoint = Task { try await index.checkpoint() }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while !index.rebalanceStatus.isRunning, clock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(index.rebalanceStatus.isRunning)
        // Writes keep being acknowledged while the checkpoint computes and writes its files.
        var next = 9_500
        var acknowledgedWhileRunning = 0
        var deletedWhileRunning: [UInt64] = []
        while index.rebalanceStatus.isRunning, next < Self.rows.count {
            try await index.upsert([Point(id: UInt64(next), vector: Self.rows[next])])
            if next % 3 == 0 {
                deletedWhileRunning.append(UInt64(next - 400))
                try await index.delete([UInt64(next - 400)])
            }
            next += 1
            if index.rebalanceStatus.isRunning { acknowledgedWhileRunning += 1 }
        }
        try await checkpoint.value
        #expect(acknowledgedWhileRunning >= 1, "no write was acknowledged while the checkpoint ran")
        print("writes acknowledged while a checkpoint ran: \(acknowledgedWhileRunning)")

        // The checkpoint folded what it froze; the writes after it are the new index's log.
        let deleted = Set(stride(from: 0, to: 9_000, by: 20).map(UInt64.init)).union(deletedWhileRunning)
        let live = (0..<UInt64(next)).filter { !deleted.contains($0) }
        #expect(index.count == live.count)
        #expect(index.index.count == 9_500 - 450)
        #expect(index.overlayRows == next - 9_500)
        let reopened = try LiveIndex.open(at: path, access: .readOnly)
        #expect(reopened.replayedRecords == 0, "read-only: the log is not read")
        let replayed = try LiveIndex.open(at: path, writeOptions: Self.noAutomaticCheckpoint)
        #expect(replayed.replayedRecords == (next - 9_500) + deletedWhileRunning.count)
        #expect(replayed.count == live.count)
        for id in stride(from: 0, to: next, by: 7).map(UInt64.init) {
            let stored = try await replayed.vector(id: id)
            #expect(deleted.contains(id) ? stored == nil : stored == Self.rows[Int(id)], "id \(id)")
        }
    }

    @Test func upsertsWaitForARunningCheckpointPastTwiceItsSize() async throws {
        let path = try Self.initialIndex()
        var options = Self.noAutomaticCheckpoint
        options.checkpointBytes = 100 << 10  // about 130 float16 rows of 384
        let index = try LiveIndex.open(at: path, writeOptions: options)
        let rowBytes = 8 + 384 * 2
        try await index.upsert([Point(id: 9_000, vector: Self.rows[9_000])])
        let checkpoint = Task { try await index.checkpoint() }
        var largest = 0
        for start in stride(from: 9_001, to: Self.rows.count, by: 20) {
            try await index.upsert(
                (start..<min(start + 20, Self.rows.count)).map { Point(id: UInt64($0), vector: Self.rows[$0]) },
                durability: .buffered
            )
            largest = max(largest, index.overlayRows)
        }
        try await checkpoint.value
        try await index.sync()
        // Never more than twice the checkpoint size, plus the batch that crossed it.
        #expect(largest * rowBytes <= 2 * options.checkpointBytes + 20 * rowBytes, "\(largest) overlay rows")
        #expect(index.count == Self.rows.count)
        #expect(index.rebalanceStatus.checkpoints >= 2, "the overlay filling started checkpoints of its own")
    }

    @Test func pausedRebalancingCompactsWithoutSplitting() async throws {
        let path = try Self.initialIndex()
        let index = try LiveIndex.open(at: path)
        await index.pauseRebalancing()
        #expect(index.rebalanceStatus.isPaused)
        try await index.upsert((9_000..<Self.rows.count).map { Point(id: UInt64($0), vector: Self.rows[$0]) })
        try await index.delete([1, 2, 3])
        #expect(index.rebalanceStatus.due == nil, "growth starts no checkpoint while paused: \(index.rebalanceStatus)")
        let centroids = index.index.manifest.centroidCount
        try await index.checkpoint()
        #expect(index.rebalanceStatus.deadVectors == 0)
        #expect(index.index.count == Self.rows.count - 3)
        #expect(index.index.manifest.centroidCount == centroids)
        #expect((index.index.manifest.rebalanced?.splits ?? 0) == 0)

        await index.resumeRebalancing()
        #expect(!index.rebalanceStatus.isPaused)
        try await index.upsert([Point(id: 1, vector: Self.rows[1])])
        try await index.checkpoint()
        #expect(index.index.manifest.centroidCount > centroids, "resumed: the checkpoint brings the centroids to their target")
        #expect((index.index.manifest.rebalanced?.splits ?? 0) > 0)
    }

    /// A checkpoint under a write budget writes the new index no faster than the budget (the
    /// pacer's arithmetic is tested on a fake clock in `WritePacerTests`; this checks the budget
    /// reaches the writer) and gives the same index as one without.
    @Test func aCheckpointKeepsToItsWriteBudget() async throws {
        let path = try Self.initialIndex()
        let copy = path + "-unpaced"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let bytes = try IndexReader.open(path).manifest.files.reduce(0) { $0 + Int($1.bytes) }
        let clock = ContinuousClock()
        func checkpoint(_ path: String, budget: Int?) async throws -> (LiveIndex, Double) {
            var options = Self.noAutomaticCheckpoint
            options.checkpointWriteBytesPerSecond = budget
            let index = try LiveIndex.open(at: path, writeOptions: options)
            try await index.upsert([Point(id: 50_000, vector: Self.rows[9_500])])
            let started = clock.now
            try await index.checkpoint()
            return (index, (clock.now - started) / .seconds(1))
        }
        // Unpaced first, then with a budget that needs 2 s more than that took: the paced one
        // writes at least `bytes` (the index grew by a point), so it cannot finish sooner.
        let (_, unpaced) = try await checkpoint(copy, budget: nil)
        let least = unpaced + 2
        let (index, paced) = try await checkpoint(path, budget: Int(Double(bytes) / least))
        #expect(paced >= least * 0.99, "\(bytes) bytes: unpaced \(unpaced) s, paced \(paced) s, budget \(least) s")
        #expect(try await index.vector(id: 50_000) == Self.rows[9_500])
        #expect(try index.search(Self.rows[9_500], k: 1).first?.id == 50_000)
    }

    @Test func badBatchesAreRefusedWholeAndChangeNothing() async throws {
        let path = try Self.initialIndex()
        let index = try LiveIndex.open(at: path)
        let good = Point(id: 20_000, vector: Self.rows[9_000])
        var nan = Self.rows[9_001]
        nan[3] = .nan
        await #expect(throws: WriteError.self) { try await index.upsert([good, Point(id: 20_001, vector: nan)]) }
        await #expect(throws: WriteError.self) { try await index.upsert([good, Point(id: 20_002, vector: [1, 2, 3])]) }
        var huge = Self.rows[9_002]
        huge[0] = 1e30  // its distances would overflow float32
        await #expect(throws: WriteError.self) { try await index.upsert([good, Point(id: 20_003, vector: huge)]) }
        #expect(index.count == Self.initial)
        #expect(try await index.vector(id: 20_000) == nil)
        // Nothing reached the log either.
        #expect(try LiveIndex.open(at: path).replayedRecords == 0)

        let readOnly = try LiveIndex.open(at: path, access: .readOnly)
        await #expect(throws: WriteError(.readOnly, "the index was opened read-only")) { try await readOnly.upsert([good]) }
    }
}
