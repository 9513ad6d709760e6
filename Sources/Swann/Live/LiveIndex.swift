import Foundation
@_spi(Engine) public import SwannCore
import SwannStorage

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// A SPANN index that takes writes while it serves: upserts and deletes go to a write-ahead log
/// (`wal.log` in the index directory) and into an in-memory overlay that every search merges
/// with the posting lists on disk; a checkpoint writes the whole index anew and empties both.
///
/// Searches never wait for writes: each one takes the current snapshot (base index + overlay)
/// and runs on it to the end; a write publishes a new snapshot, visible to every search that
/// starts after the call returns. Writes are serialised (one writer at a time, in an actor).
/// docs/WRITES.md describes the design and its guarantees.
///
/// ```swift
/// let index = try LiveIndex.open(at: "wiki.swann")
/// try await index.upsert([Point(id: 7, vector: v)])          // durable when it returns
/// try await index.delete([8])
/// let hits = try index.search(q, k: 10)                      // sees both
/// ```
public final class LiveIndex: NearestNeighborSearch {
    /// Whether writes are allowed.
    public enum Access: String, Sendable, Hashable {
        /// Searches and reads only; the index directory is never written.
        case readOnly
        /// Writes too: the log is replayed at open and appended to.
        case readWrite
    }

    /// How the write path behaves.
    public struct WriteOptions: Sendable, Hashable {
        /// A checkpoint starts once the overlay's rows take this many bytes (256 MiB), so that
        /// serving memory stays bounded however many writes arrive.
        public var checkpointBytes: Int = 256 << 20
        /// How checkpoints split, merge and reassign lists (docs/WRITES.md).
        public var rebalance = RebalanceConfiguration()
        /// A checkpoint's write budget: it writes the new index at most this many bytes per
        /// second on average, so that rewriting the index does not flood the disk the searches
        /// read from (nil: as fast as the disk takes it). A checkpoint of an index of B bytes then
        /// takes at least B / budget seconds, and writes that arrive meanwhile wait for it once
        /// the overlay holds twice `checkpointBytes`.
        public var checkpointWriteBytesPerSecond: Int?
        /// The defaults.
        public init() {}
    }

    /// The directory the index lives in.
    public let path: String
    /// Whether writes are allowed.
    public let access: Access
    let snapshot: SnapshotCell
    let writer: IndexWriterActor

    /// Opens the index directory at `path`; with `.readWrite`, replays its write-ahead log
    /// (a torn last record is dropped, nothing before it).
    /// - Throws: `IndexError` for a missing or corrupt index or log, or a log that cannot be
    ///   written.
    public static func open(
        at path: String,
        options: Index.OpenOptions = Index.OpenOptions(),
        access: Access = .readWrite,
        writeOptions: WriteOptions = WriteOptions()
    ) throws(IndexError) -> LiveIndex {
        let base = try Index.open(at: path, options: options)
        var state = WriteState(base: base, rebalance: writeOptions.rebalance)
        var log: WriteAheadLog?
        var replayed = 0
        if access == .readWrite {
            let (opened, decoded) = try WriteAheadLog.open(indexPath: path, dimension: base.dimension)
            log = opened
            try state.replay(decoded.records, logPath: opened.path)
            replayed = decoded.records.count
        }
        let cell = SnapshotCell(Snapshot(index: base, overlay: state.isModified ? state.overlay() : nil))
        let writer = IndexWriterActor(state: state, log: log, snapshot: cell, options: options, writeOptions: writeOptions)
        return LiveIndex(path: path, access: access, snapshot: cell, writer: writer, replayedRecords: replayed)
    }

    /// Serves `index` read-only, as it is (no log is read or written).
    public convenience init(serving index: Index) {
        let cell = SnapshotCell(Snapshot(index: index, overlay: nil))
        let writer = IndexWriterActor(
            state: WriteState(base: index),
            log: nil,
            snapshot: cell,
            options: Index.OpenOptions(),
            writeOptions: WriteOptions()
        )
        self.init(path: index.path, access: .readOnly, snapshot: cell, writer: writer, replayedRecords: 0)
    }

    /// Log records replayed at open.
    public let replayedRecords: Int

    private init(path: String, access: Access, snapshot: SnapshotCell, writer: IndexWriterActor, replayedRecords: Int) {
        self.path = path
        self.access = access
        self.snapshot = snapshot
        self.writer = writer
        self.replayedRecords = replayedRecords
    }

    /// The base index searches currently run on (its manifest, sizes and defaults).
    public var index: Index { snapshot.current.index }
    /// Vectors a search can return now.
    public var count: Int { snapshot.current.liveCount }
    /// Components per vector.
    public var dimension: Int { index.dimension }
    /// Vectors written since the last checkpoint (in memory, replayed from the log at open).
    public var overlayRows: Int { snapshot.current.overlay?.rowCount ?? 0 }

    /// What is waiting for the next checkpoint (dead vectors, oversized lists, the centroid
    /// count against its target) and what rebalancing has done; never waits for the writer.
    public var rebalanceStatus: RebalanceStatus { writer.status.current }

    /// The `k` nearest neighbours of `query` into `neighbors`, nearest first (see
    /// `Index.search(_:k:parameters:into:)`); fewer than k when fewer vectors are live.
    /// - Returns: what the query cost.
    public func search(
        _ query: UnsafeBufferPointer<Float>,
        k: Int,
        parameters: SearchParameters? = nil,
        into neighbors: inout [Neighbor]
    ) throws(SearchError) -> SearchStatistics {
        neighbors.removeAll(keepingCapacity: true)
        let current = snapshot.current
        let index = current.index
        let parameters = parameters ?? index.defaultParameters
        guard k >= 1, k <= max(1, current.liveCount) else {
            throw SearchError(.invalidK, "k must be in 1...\(max(1, current.liveCount)), got \(k)")
        }
        do { try parameters.validate() } catch { throw SearchError(.invalidParameters, error.message) }
        let scratch = index.takeScratch()
        defer { index.returnScratch(scratch) }
        let statistics = try index.search(query, k: k, parameters: parameters, scratch: scratch, overlay: current.overlay)
        neighbors.append(contentsOf: scratch.neighbors)
        return statistics
    }

    /// Inserts `points`, each replacing any vector stored under its id. The batch is checked
    /// whole first: one bad point refuses it and changes nothing.
    /// - Throws: `WriteError` (`.readOnly`, `.invalidVector`, `.invalidBatch`,
    ///   `.ioFailure`).
    public func upsert(_ points: [Point], durability: Durability = .durable) async throws(WriteError) {
        var ids: [UInt64] = []
        var vectors: [Float] = []
        ids.reserveCapacity(points.count)
        vectors.reserveCapacity(points.count * dimension)
        for (i, point) in points.enumerated() {
            guard point.vector.count == dimension else {
                throw WriteError(.invalidVector, "point \(i) (id \(point.id)) has dimension \(point.vector.count), the index has \(dimension)")
            }
            ids.append(point.id)
            vectors += point.vector
        }
        try await writer.upsert(ids: ids, vectors: vectors, durability: durability)
    }

    /// Deletes the vectors stored under `ids` (absent ids are ignored).
    /// - Returns: how many were present.
    @discardableResult
    public func delete(_ ids: [UInt64], durability: Durability = .durable) async throws(WriteError) -> Int {
        try await writer.delete(ids: ids, durability: durability)
    }

    /// The vector stored under `id` (normalised, for a cosine index), or nil if there is none.
    public func vector(id: UInt64) async throws(WriteError) -> [Float]? {
        try await writer.vector(id: id)
    }

    /// Writes the index with every write folded in (crash-safe, like a build), swaps it in and
    /// empties the log. Searches in flight finish on the old files. Writes go on while it
    /// computes; those it did not fold in stay in the new index's log. A checkpoint already
    /// running (started by the writes) is waited for first.
    public func checkpoint() async throws(WriteError) {
        try await writer.checkpoint()
    }

    /// Pauses rebalancing (an operator's lever for a busy hour): checkpoints still start when
    /// the overlay fills or dead entries pass the compaction fraction, and still compact, but no
    /// list is split, merged or reassigned, and long lists or the centroid count start no
    /// checkpoint. A checkpoint running now finishes as it started.
    public func pauseRebalancing() async {
        await writer.setRebalancingPaused(true)
    }

    /// Undoes `pauseRebalancing()`; a checkpoint that is due starts.
    public func resumeRebalancing() async {
        await writer.setRebalancingPaused(false)
    }

    /// One more than the largest id stored: where ids for new vectors can start.
    public func nextFreeID() async -> UInt64 {
        await writer.nextFreeID()
    }

    /// Makes every write so far durable.
    public func sync() async throws(WriteError) {
        try await writer.sync()
    }

    /// Stops taking writes: makes every write so far durable and closes the log, releasing its
    /// lock, so that another `LiveIndex` may open this directory for writing (a server's hot
    /// swap). Searches go on as before; later writes fail with `WriteError.Code.closed`.
    public func closeForWrites() async throws(WriteError) {
        try await writer.close()
    }

    /// Undoes `closeForWrites()` (a replacement failed to open): the log is opened again and
    /// writes are taken.
    public func reopenForWrites() async throws(WriteError) {
        try await writer.reopen()
    }
}

/// What a search runs on: the base index and the writes since it.
struct Snapshot: Sendable {
    var index: Index
    var overlay: Overlay?
    var liveCount: Int { overlay?.liveCount ?? index.count }
}

/// The current snapshot; swapping it is the only thing searches and writers share.
final class SnapshotCell: Sendable {
    private let value: NIOLockedValueBox<Snapshot>
    init(_ snapshot: Snapshot) { value = NIOLockedValueBox(snapshot) }
    var current: Snapshot { value.withLockedValue { $0 } }
    func publish(_ snapshot: Snapshot) { value.withLockedValue { $0 = snapshot } }
}
