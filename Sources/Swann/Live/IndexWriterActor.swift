import CSwannKernels
import Dispatch
import SwannCore
import SwannStorage

/// Serialises the writes of one `LiveIndex`: log, apply, publish. An actor, so a long
/// checkpoint queues writers instead of blocking threads, and a writer waiting for its fsync
/// lets the next one log (group commit).
actor IndexWriterActor {
    /// The actor runs on a queue of its own rather than on Swift's cooperative pool (one thread
    /// per core): a checkpoint computes for seconds (compaction, rebalancing, writing the
    /// files) without a suspension point, and on the pool it held a thread that every other
    /// task of the process (request handlers, clients) was waiting for.
    private let executor = QueueExecutor(label: "swann.index-writer")
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private var state: WriteState
    private var log: WriteAheadLog?
    private let snapshot: SnapshotCell
    /// What `LiveIndex.rebalanceStatus` reads.
    let status: RebalanceStatusCell
    private let options: Index.OpenOptions
    private let writeOptions: LiveIndex.WriteOptions
    private var checkpointScheduled = false
    /// Set when a checkpoint failed half-way: the log may no longer match the files.
    private var failure: WriteError?

    init(state: WriteState, log: WriteAheadLog?, snapshot: SnapshotCell, options: Index.OpenOptions, writeOptions: LiveIndex.WriteOptions) {
        self.state = state
        self.log = log
        self.snapshot = snapshot
        self.options = options
        self.writeOptions = writeOptions
        status = RebalanceStatusCell(RebalanceStatus())
        status.update { Self.describe(state, options: writeOptions, into: &$0) }
    }

    /// The status fields that follow from the write state.
    private static func describe(_ state: WriteState, options: LiveIndex.WriteOptions, into status: inout RebalanceStatus) {
        status.oversizedLists = state.oversizedLists
        status.deadVectors = state.deadVectors
        status.centroidDeficit = state.centroidDeficit
        status.due = state.checkpointDue(options)
        status.totals = state.base.manifest.rebalanced ?? RebalanceStatistics()
    }

    /// Set by `close()`: writes are refused until `reopen()`.
    private var closed = false

    private func writableLog() throws(WriteError) -> WriteAheadLog {
        if let failure { throw failure }
        if closed { throw WriteError(.closed, "the index was closed for writes (it is being replaced); retry") }
        guard let log else { throw WriteError(.readOnly, "the index was opened read-only") }
        return log
    }

    /// Makes every write durable and closes the log (releasing its lock); later writes fail
    /// with `.closed`. Nothing to do for a read-only index.
    func close() async throws(WriteError) {
        guard let log, !closed else { return }
        closed = true
        do { try await log.close() } catch { throw WriteError(.ioFailure, error.description) }
        self.log = nil
    }

    /// Undoes `close()`: opens the log again (appending after what it holds) and takes writes.
    func reopen() throws(WriteError) {
        guard closed else { return }
        do throws(IndexError) {
            (log, _) = try WriteAheadLog.open(indexPath: state.base.path, dimension: state.base.dimension)
            closed = false
        } catch {
            throw WriteError(.ioFailure, "the write-ahead log could not be reopened: \(error)")
        }
    }

    func upsert(ids: [UInt64], vectors: [Float], durability: Durability) async throws(WriteError) {
        let log = try writableLog()
        let payload = LogFormat.payloadHeaderSize + ids.count * (8 + 4 * state.base.dimension)
        guard payload <= LogFormat.maxPayloadBytes else {
            throw WriteError(
                .invalidBatch,
                "a batch of \(ids.count) vectors is \(payload) bytes; at most \(LogFormat.maxPayloadBytes) fit one log record"
            )
        }
        let batch = try state.prepare(ids: ids, vectors: vectors)
        let ticket = log.append(.upsert(ids: ids, vectors: vectors), dimension: state.base.dimension)
        state.apply(batch)
        publish()
        try await finish(ticket, on: log, durability: durability)
    }

    func delete(ids: [UInt64], durability: Durability) async throws(WriteError) -> Int {
        let log = try writableLog()
        guard LogFormat.payloadHeaderSize + ids.count * 8 <= LogFormat.maxPayloadBytes else {
            throw WriteError(.invalidBatch, "a delete of \(ids.count) ids does not fit one log record")
        }
        let ticket = log.append(.delete(ids: ids), dimension: state.base.dimension)
        let deleted = state.delete(ids)
        publish()
        try await finish(ticket, on: log, durability: durability)
        return deleted
    }

    func vector(id: UInt64) throws(WriteError) -> [Float]? {
        try state.vector(id: id)
    }

    func nextFreeID() -> UInt64 { state.nextFreeID() }

    func sync() async throws(WriteError) {
        let log = try writableLog()
        do { try await log.syncAll() } catch { throw WriteError(.ioFailure, error.description) }
    }

    private func publish() {
        snapshot.publish(Snapshot(index: state.base, overlay: state.overlay()))
        status.update { Self.describe(state, options: writeOptions, into: &$0) }
        if !checkpointScheduled, log != nil, state.checkpointDue(writeOptions) != nil {
            checkpointScheduled = true
            Task { try? await self.checkpoint(automatic: true) }
        }
    }

    private func finish(_ ticket: UInt64, on log: WriteAheadLog, durability: Durability) async throws(WriteError) {
        switch durability {
        case .durable:
            do { try await log.sync(through: ticket) } catch { throw WriteError(.ioFailure, error.description) }
        case .buffered:
            Task { try? await log.sync(through: ticket) }
        }
    }

    /// A checkpoint frees the overlay and the contents it built (the size of the index); glibc
    /// keeps freed heap pages mapped unless asked, which left a server at twice a fresh one's
    /// resident memory after a checkpoint (Tools/bench/writes).
    private static func returnFreedMemory() {
        swann_release_free_memory()
    }

    /// Writes the checkpoint's files. A function of its own so that the contents (the size of
    /// the index) are freed when it returns, before the new index is opened: the new index then
    /// reuses that memory instead of landing beside it, and `malloc_trim` afterwards finds the
    /// freed pages (trimming with the contents still referenced left 40 MiB of them resident).
    private static func write(_ state: WriteState, rebalance: RebalanceConfiguration, toTarget: Bool) throws(WriteError) {
        let contents = try state.checkpointContents(rebalance: rebalance, toTarget: toTarget)
        do {
            try IndexWriter.write(contents, to: state.base.path, overwrite: true)
        } catch {
            throw WriteError(.ioFailure, "the checkpoint could not be written (the index and its log are unchanged): \(error)")
        }
    }

    /// - Parameter automatic: started by the writes (`RebalanceStatus.Reason`) rather than asked
    ///   for; an automatic checkpoint leaves a centroid count within the tolerated surplus alone.
    func checkpoint(automatic: Bool = false) async throws(WriteError) {
        defer { checkpointScheduled = false }
        let log = try writableLog()
        // Everything logged is on disk first: if the checkpoint fails, the old files and the
        // log still hold every acknowledged write.
        do { try await log.syncAll() } catch { throw WriteError(.ioFailure, error.description) }
        guard state.isModified else { return }
        status.update { $0.isRunning = true }
        defer { status.update { $0.isRunning = false } }
        // No suspension from here on: no write can slip between the contents and the swap.
        let path = state.base.path
        try Self.write(state, rebalance: writeOptions.rebalance, toTarget: !automatic)
        do throws(IndexError) {
            let base = try Index.open(at: path, options: options)
            let (newLog, _) = try WriteAheadLog.open(indexPath: path, dimension: base.dimension)
            self.log = newLog
            state = WriteState(base: base, rebalance: writeOptions.rebalance)
            snapshot.publish(Snapshot(index: base, overlay: nil))
            status.update {
                Self.describe(state, options: writeOptions, into: &$0)
                $0.checkpoints += 1
            }
            // Only now are the old state and the checkpoint's transient copies gone (unless a
            // search in flight still holds the old snapshot).
            Self.returnFreedMemory()
        } catch {
            // The new files are in place but this process can no longer log against them.
            let failure = WriteError(.ioFailure, "the checkpoint was written but could not be reopened (\(error)); restart to recover")
            self.failure = failure
            throw failure
        }
    }
}

/// A serial executor on a dispatch queue of its own (Linux has no `DispatchSerialQueue`
/// executor): the jobs of an actor that uses it run on that queue's thread, one at a time.
final class QueueExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }
}
