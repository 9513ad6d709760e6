import CSwannKernels
import Dispatch
import Foundation
@_spi(Engine) import SwannCore
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
    /// A checkpoint is running (one at a time); `checkpoint()` callers wait in
    /// `checkpointWaiters` for it to end.
    private var isCheckpointing = false
    private var checkpointWaiters: [CheckedContinuation<Void, Never>] = []
    /// The records logged since the running checkpoint froze the state, for the new index's
    /// log: the swap then loses none of the writes taken while the checkpoint ran. Nil while
    /// none runs.
    private var tail: [LogRecord]?
    /// `LiveIndex.pauseRebalancing()`: checkpoints still compact, but do not rebalance, and long
    /// lists or the centroid count start none.
    private var rebalancePaused = false
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

    /// The write options in force: `writeOptions` with rebalancing off while paused.
    private var activeOptions: LiveIndex.WriteOptions {
        var options = writeOptions
        if rebalancePaused { options.rebalance.isEnabled = false }
        return options
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
        // A running checkpoint holds the overlay it froze, and the tail, beside the live one:
        // past twice the checkpoint size, upserts wait for it to end, so memory stays bounded
        // however fast writes come.
        while isCheckpointing, state.overlayBytes >= 2 * writeOptions.checkpointBytes {
            await withCheckedContinuation { checkpointWaiters.append($0) }
        }
        let log = try writableLog()
        let payload = LogFormat.payloadHeaderSize + ids.count * (8 + 4 * state.base.dimension)
        guard payload <= LogFormat.maxPayloadBytes else {
            throw WriteError(
                .invalidBatch,
                "a batch of \(ids.count) vectors is \(payload) bytes; at most \(LogFormat.maxPayloadBytes) fit one log record"
            )
        }
        let batch = try state.prepare(ids: ids, vectors: vectors)
        let record = LogRecord.upsert(ids: ids, vectors: vectors)
        let ticket = log.append(record, dimension: state.base.dimension)
        tail?.append(record)
        state.apply(batch)
        publish()
        try await finish(ticket, on: log, durability: durability)
    }

    func delete(ids: [UInt64], durability: Durability) async throws(WriteError) -> Int {
        let log = try writableLog()
        guard LogFormat.payloadHeaderSize + ids.count * 8 <= LogFormat.maxPayloadBytes else {
            throw WriteError(.invalidBatch, "a delete of \(ids.count) ids does not fit one log record")
        }
        let record = LogRecord.delete(ids: ids)
        let ticket = log.append(record, dimension: state.base.dimension)
        tail?.append(record)
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
        status.update { Self.describe(state, options: activeOptions, into: &$0) }
        scheduleCheckpointIfDue()
    }

    /// Only a write (or a resume) calls this, and a successful checkpoint once it ends: a failed
    /// one (a full disk) is retried at the next write, not in a loop.
    private func scheduleCheckpointIfDue() {
        guard !checkpointScheduled, !isCheckpointing, log != nil, failure == nil, state.isModified,
            state.checkpointDue(activeOptions) != nil
        else { return }
        checkpointScheduled = true
        Task { try? await self.checkpoint(automatic: true) }
    }

    /// Pauses or resumes rebalancing (`LiveIndex.pauseRebalancing()`); a checkpoint running
    /// now finishes as it started.
    func setRebalancingPaused(_ paused: Bool) {
        rebalancePaused = paused
        status.update {
            Self.describe(state, options: activeOptions, into: &$0)
            $0.isPaused = paused
        }
        scheduleCheckpointIfDue()
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

    /// Where checkpoints compute and write, beside the writer rather than on it: writes go on
    /// while a checkpoint runs. At utility priority, with `RebalanceConfiguration.threads`
    /// bounding its parallel parts, so searches and writes keep the rest of the machine.
    private static let checkpointQueue = DispatchQueue(label: "swann.checkpoint", qos: .utility)

    /// Computes the checkpoint of `source` and writes it beside the index, on `checkpointQueue`.
    private static func stage(_ source: CheckpointSource, options: LiveIndex.WriteOptions, toTarget: Bool) async throws(WriteError) -> StagedIndex {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<StagedIndex, WriteError>, Never>) in
            checkpointQueue.async {
                continuation.resume(returning: Result { () throws(WriteError) in try stageNow(source, options: options, toTarget: toTarget) })
            }
        }
        return try result.get()
    }

    /// A function of its own so that the contents (the size of the index) are freed when it
    /// returns, before the new index is opened: the new index then reuses that memory instead of
    /// landing beside it, and `malloc_trim` afterwards finds the freed pages.
    private static func stageNow(_ source: CheckpointSource, options: LiveIndex.WriteOptions, toTarget: Bool) throws(WriteError) -> StagedIndex {
        let contents = try source.checkpointContents(rebalance: options.rebalance, toTarget: toTarget)
        let pacer = options.checkpointWriteBytesPerSecond.map { WritePacer(bytesPerSecond: $0) }
        do {
            return try IndexWriter.stage(contents, for: source.base.path, overwrite: true, pacer: pacer)
        } catch {
            throw WriteError(.ioFailure, "the checkpoint could not be written (the index and its log are unchanged): \(error)")
        }
    }

    /// - Parameter automatic: started by the writes (`RebalanceStatus.Reason`) rather than asked
    ///   for; an automatic checkpoint leaves a centroid count within the tolerated surplus alone,
    ///   and does not run when another is running.
    func checkpoint(automatic: Bool = false) async throws(WriteError) {
        if automatic {
            // Writes during the run schedule none (`isCheckpointing`); a successful run schedules
            // the next if the writes meanwhile made one due.
            checkpointScheduled = false
            guard !isCheckpointing else { return }
            try await runCheckpoint(toTarget: false)
            scheduleCheckpointIfDue()
            return
        }
        // Asked for: it folds every write acknowledged before the call, so it waits for a
        // running checkpoint (which froze its state earlier) and then runs its own.
        while isCheckpointing {
            await withCheckedContinuation { checkpointWaiters.append($0) }
        }
        try await runCheckpoint(toTarget: true)
        scheduleCheckpointIfDue()
    }

    /// Freezes the state, computes and writes the new index in the background while writes go
    /// on, then, back on the writer, adds the writes taken meanwhile as the new index's log,
    /// swaps it in and replays that log over it.
    private func runCheckpoint(toTarget: Bool) async throws(WriteError) {
        isCheckpointing = true
        defer {
            isCheckpointing = false
            tail = nil
            let waiters = checkpointWaiters
            checkpointWaiters = []
            for waiter in waiters { waiter.resume() }
        }
        let log = try writableLog()
        // An asked-for checkpoint also runs for a centroid count more than 1% off its target:
        // the writes may all have been folded in by an automatic one, which tolerates a surplus.
        let offTarget = toTarget && activeOptions.rebalance.isEnabled && abs(state.centroidDeficit) * 100 > state.base.header.centroids.count
        guard state.isModified || offTarget else { return }
        status.update { $0.isRunning = true }
        defer { status.update { $0.isRunning = false } }
        let source = state.checkpointSource()
        tail = []
        let staged = try await Self.stage(source, options: activeOptions, toTarget: toTarget)
        // Back on the writer: nothing below suspends, so no write slips between the tail and
        // the swap. Every acknowledged write is in the old directory's log until the swap, and
        // in the new index or its log after it.
        guard failure == nil, !closed, self.log === log, let records = tail else {
            staged.discard()
            throw WriteError(.closed, "the index was closed for writes while the checkpoint ran; the checkpoint was given up")
        }
        let path = state.base.path
        do throws(IndexError) {
            try WriteAheadLog.create(in: staged.directory, dimension: state.base.dimension, records: records)
            try IndexWriter.swapIn(staged)
        } catch {
            staged.discard()
            throw WriteError(.ioFailure, "the checkpoint could not be written (the index and its log are unchanged): \(error)")
        }
        do throws(IndexError) {
            try IndexWriter.syncParent(of: path)
        } catch {
            // A crash could still undo the swap: writes logged in the new directory from now on
            // would then be lost, so take none.
            let failure = WriteError(.ioFailure, "the checkpoint was swapped in but the swap is not durable (\(error)); restart to recover")
            self.failure = failure
            throw failure
        }
        do throws(IndexError) {
            let base = try Index.open(at: path, options: options)
            let (newLog, decoded) = try WriteAheadLog.open(indexPath: path, dimension: base.dimension)
            var next = WriteState(base: base, rebalance: writeOptions.rebalance)
            try next.replay(decoded.records, logPath: newLog.path)
            self.log = newLog
            state = next
            snapshot.publish(Snapshot(index: base, overlay: next.isModified ? next.overlay() : nil))
            status.update {
                Self.describe(state, options: activeOptions, into: &$0)
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
