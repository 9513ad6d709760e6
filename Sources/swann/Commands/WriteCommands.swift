import ArgumentParser
import Foundation
import Swann

/// `swann upsert`: adds or replaces vectors in an index that no server has open.
struct UpsertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upsert",
        abstract: "Add or replace vectors in an index (not while a server has it open; write through the server then).",
        discussion: """
            Each vector is stored under its id (--ids, one per vector) and replaces any vector with that id; \
            without --ids the vectors get the ids after the largest one in the index. The writes go to the \
            index's write-ahead log (durable when the command returns); --checkpoint folds them into the index files.
            """
    )

    @Argument(help: "The index directory.")
    var index: String
    @Argument(help: "The vectors: .fvecs, .bvecs, .fbin, .u8bin, .i8bin or .npy, the index's dimension.")
    var vectors: String
    @Option(help: "User ids, one per vector: a text file (one per line), .ivecs, .ibin, or .npy (int32, int64, uint64).")
    var ids: String?
    @Flag(help: "Write a checkpoint afterwards: the index files hold the writes and the log is empty.")
    var checkpoint = false

    func validate() throws {
        try requireExisting(index, what: "index")
        try requireExisting(vectors, what: "vector file")
        if let ids { try requireExisting(ids, what: "ids file") }
    }

    func run() async throws {
        let live = try LiveIndex.open(at: index)
        let matrix = try VectorFile(path: vectors).readVectors()
        guard matrix.dimension == live.dimension else {
            throw ValidationError("\(vectors) holds vectors of dimension \(matrix.dimension); \(index) has dimension \(live.dimension)")
        }
        let userIDs: [UInt64]
        if let ids {
            userIDs = try IDFile.read(ids)
            guard userIDs.count == matrix.count else {
                throw ValidationError("\(ids) holds \(userIDs.count) ids for \(matrix.count) vectors")
            }
        } else {
            let first = await live.nextFreeID()
            userIDs = (0..<UInt64(matrix.count)).map { first + $0 }
        }
        let started = ContinuousClock.now
        // Batches of 1,000 logged without waiting, one fsync at the end: durable when we return.
        let batchSize = 1_000
        for start in stride(from: 0, to: matrix.count, by: batchSize) {
            let points = (start..<min(start + batchSize, matrix.count)).map { Point(id: userIDs[$0], vector: matrix.floats(at: $0)) }
            do {
                try await live.upsert(points, durability: .buffered)
            } catch {
                throw ValidationError(
                    "\(vectors): rows \(start)..<\(start + points.count) were refused (\(error.message)); the rows before them are stored"
                )
            }
        }
        try await live.sync()
        if checkpoint { try await live.checkpoint() }
        let seconds = (ContinuousClock.now - started).seconds
        let range = userIDs.isEmpty ? "" : " (ids \(userIDs.min()!)…\(userIDs.max()!))"
        print(
            "upserted \(matrix.count) vectors\(range) into \(index) in \(String(format: "%.2f", seconds)) s; it holds \(live.count) vectors"
                + (checkpoint ? ", checkpointed" : ", \(live.overlayRows) in its log")
        )
    }
}

/// `swann delete`: removes vectors by id from an index that no server has open.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete vectors by id from an index (not while a server has it open; write through the server then)."
    )

    @Argument(help: "The index directory.")
    var index: String
    @Option(help: "The ids to delete: a text file (one per line), .ivecs, .ibin, or .npy (int32, int64, uint64).")
    var ids: String
    @Flag(help: "Write a checkpoint afterwards: the index files hold the deletes and the log is empty.")
    var checkpoint = false

    func validate() throws {
        try requireExisting(index, what: "index")
        try requireExisting(ids, what: "ids file")
    }

    func run() async throws {
        let live = try LiveIndex.open(at: index)
        let userIDs = try IDFile.read(ids)
        let deleted = try await live.delete(userIDs)
        if checkpoint { try await live.checkpoint() }
        print("deleted \(deleted) of \(userIDs.count) ids from \(index) (\(userIDs.count - deleted) were absent); it holds \(live.count) vectors")
    }
}

/// `swann compact`: folds the write-ahead log into the index files, dropping dead entries and
/// rebalancing the lists, on an index that no server has open.
struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Checkpoint an index offline: fold in its write log, reclaim deleted entries and rebalance its lists.",
        discussion: """
            A running server does the same by itself (docs/WRITES.md). Not while a server has the \
            index open.
            """
    )

    @Argument(help: "The index directory.")
    var index: String
    @Flag(help: "Only compact: keep every centroid and list (no split, merge or reassignment).")
    var noRebalance = false

    func validate() throws {
        try requireExisting(index, what: "index")
    }

    func run() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        var options = LiveIndex.WriteOptions()
        options.rebalance.isEnabled = !noRebalance
        let live = try LiveIndex.open(at: index, writeOptions: options)
        let before = live.index.manifest
        let status = live.rebalanceStatus
        try await live.checkpoint()
        let after = live.index.manifest
        let done = (after.rebalanced ?? RebalanceStatistics())
        let was = before.rebalanced ?? RebalanceStatistics()
        let diskBytes = { (m: IndexManifest) in m.files.reduce(Int64(0)) { $0 + $1.bytes } }
        print(
            "compacted \(index) in \(String(format: "%.2f", (clock.now - started).seconds)) s: \(after.vectorCount) vectors (\(status.deadVectors) dead entries dropped), \(before.centroidCount) → \(after.centroidCount) centroids, \(done.splits - was.splits) splits, \(done.merges - was.merges) merges, \(done.movedVectors - was.movedVectors) vectors reassigned, \(formatBytes(diskBytes(before))) → \(formatBytes(diskBytes(after))) on disk"
        )
    }
}
