import Foundation
import SystemPackage

import struct NIOConcurrencyHelpers.NIOLockedValueBox

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The write-ahead log of a writable index (`wal.log` in its directory) with group commit.
///
/// `append` frames a record into an in-memory buffer and returns its ticket; `sync(through:)`
/// returns once that record is on disk. Whoever syncs first while no flush is running writes
/// the whole buffer and fsyncs once, for every record appended so far: writers that arrive
/// during an fsync wait for it and share the next one, so 16 concurrent single-point writers
/// cost about one fsync per round, not 16.
package final class WriteAheadLog: Sendable {
    package let path: String
    private let descriptor: FileDescriptor
    private let state: NIOLockedValueBox<State>
    /// Where writes and fsyncs run (one at a time: `State.flushing`).
    private let flushQueue = DispatchQueue(label: "swann.wal.flush")

    private struct State {
        var buffer: [UInt8] = []
        /// Tickets are record numbers since the log was opened, from 1.
        var appended: UInt64 = 0
        var durable: UInt64 = 0
        var flushing = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// A failed write or fsync: the log can no longer promise durability, so every later
        /// sync fails with it (the server must be restarted to recover from the log).
        var failure: IndexError?
        /// Bytes in the file.
        var size: Int
        /// `close()` ran: the descriptor is closed and must not be closed again.
        var closed = false
    }

    /// The log of an index at `indexPath` and what it held: an absent log is created empty; a
    /// torn tail is cut off (reported in `decoded.stopped`) so appends continue after the last
    /// intact record.
    /// - Throws: `IndexError` naming the file for a log that cannot be read or written, or
    ///   whose header does not belong to this index.
    package static func open(indexPath: String, dimension: Int) throws(IndexError) -> (log: WriteAheadLog, decoded: LogFormat.Decoded) {
        let path = indexPath.hasSuffix("/") ? indexPath + fileName : indexPath + "/" + fileName
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                FilePath(path),
                .readWrite,
                options: [.create, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead]
            )
        } catch {
            throw IndexError(
                .ioFailure,
                path: path,
                detail:
                    "cannot open the write-ahead log for writing (\(error)); open the index read-only (swann serve --read-only) if it takes no writes"
            )
        }
        do throws(IndexError) {
            // One writing process per index: a second one appending to the same log would
            // interleave records. A POSIX record lock belongs to the process (the kernel drops it
            // when the holder dies), so a checkpoint's reopen in the same process is not refused.
            var lock = flock()
            lock.l_type = Int16(F_WRLCK)
            lock.l_whence = Int16(SEEK_SET)
            guard fcntl(descriptor.rawValue, F_SETLK, &lock) == 0 else {
                throw IndexError(
                    .ioFailure,
                    path: path,
                    detail: "another process has this index open for writing (a running swann serve?); stop it or write through it"
                )
            }
            var bytes = try readAll(descriptor, path: path)
            var createdHeader = false
            if bytes.isEmpty {
                bytes = LogFormat.fileHeader(dimension: dimension)
                createdHeader = true
            }
            let decoded = try bytes.withUnsafeBytes { raw in
                Result { () throws(IndexError) in try LogFormat.decode(raw, dimension: dimension, path: path) }
            }.get()
            if createdHeader {
                try write(bytes, to: descriptor, at: 0, path: path)
            }
            if decoded.validBytes < bytes.count || createdHeader {
                // Cut the torn tail before anything is appended after it, and make the cut (or
                // the new header) durable before any write is acknowledged on top of it.
                guard ftruncate(descriptor.rawValue, off_t(decoded.validBytes)) == 0, fsync(descriptor.rawValue) == 0 else {
                    throw IndexError(.ioFailure, path: path, detail: "cannot cut the log's torn tail: \(String(cString: strerror(errno)))")
                }
            }
            return (WriteAheadLog(path: path, descriptor: descriptor, size: decoded.validBytes), decoded)
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    /// Writes a new log holding `records` into the index directory `directory` (a staged
    /// checkpoint: the writes that arrived while it was computed) and fsyncs it; the caller syncs
    /// the directory.
    package static func create(in directory: String, dimension: Int, records: [LogRecord]) throws(IndexError) {
        var bytes = LogFormat.fileHeader(dimension: dimension)
        for record in records { LogFormat.encode(record, dimension: dimension, into: &bytes) }
        // The index writer's file writing: created, written, fsynced (its checksum goes unused).
        try IndexWriter.writeFile(directory + "/" + fileName) { file throws(IndexError) in
            try IndexWriter.io(file.path) { () throws(VectorFileError) in try file.write(bytes) }
        }
    }

    /// The log's file name inside the index directory.
    package static let fileName = "wal.log"

    private init(path: String, descriptor: FileDescriptor, size: Int) {
        self.path = path
        self.descriptor = descriptor
        self.state = NIOLockedValueBox(State(size: size))
    }

    deinit {
        if !state.withLockedValue({ $0.closed }) { try? descriptor.close() }
    }

    /// Syncs everything appended, then closes the file now (not when the last reference goes),
    /// releasing the write lock: another `WriteAheadLog` of this process may then open the same
    /// file without the old descriptor's later close dropping its lock (POSIX record locks
    /// belong to the process and file, and any close of that file releases them). Every later
    /// sync fails.
    package func close() async throws(IndexError) {
        try await syncAll()
        let closeNow = state.withLockedValue { state -> Bool in
            guard !state.closed, !state.flushing else { return false }
            state.closed = true
            state.failure = IndexError(.ioFailure, path: path, detail: "the write-ahead log was closed")
            return true
        }
        if closeNow { try? descriptor.close() }
    }

    /// Bytes in the log file, including what is buffered.
    package var bytes: Int { state.withLockedValue { $0.size + $0.buffer.count } }

    /// Frames `record` into the buffer; returns the ticket to pass to `sync(through:)`.
    package func append(_ record: LogRecord, dimension: Int) -> UInt64 {
        state.withLockedValue { state in
            LogFormat.encode(record, dimension: dimension, into: &state.buffer)
            state.appended += 1
            return state.appended
        }
    }

    /// Returns once every record up to `ticket` is on disk (written and fsynced).
    /// - Throws: the `IndexError` of a failed write or fsync (then and ever after).
    package func sync(through ticket: UInt64) async throws(IndexError) {
        while true {
            enum Step {
                case done
                case failed(IndexError)
                case wait
                case flush([UInt8], through: UInt64, at: Int)
            }
            let step = state.withLockedValue { state -> Step in
                if let failure = state.failure { return .failed(failure) }
                if state.durable >= ticket { return .done }
                if state.flushing { return .wait }
                state.flushing = true
                let bytes = state.buffer
                state.buffer.removeAll(keepingCapacity: true)
                return .flush(bytes, through: state.appended, at: state.size)
            }
            switch step {
            case .done: return
            case .failed(let error): throw error
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLockedValue { state -> Bool in
                        guard state.flushing else { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            case .flush(let bytes, let through, let offset):
                let failure = await flush(bytes, at: offset)
                let waiters = state.withLockedValue { state in
                    state.flushing = false
                    if let failure {
                        state.failure = failure
                    } else {
                        state.durable = through
                        state.size = offset + bytes.count
                    }
                    defer { state.waiters.removeAll() }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
                if let failure { throw failure }
            }
        }
    }

    /// Writes and fsyncs `bytes` at `offset` on the log's own thread: an fsync blocks for
    /// milliseconds, and on the cooperative pool (one thread per core) it stalled every task
    /// behind it — searches' replies included (Tools/bench/writes).
    private func flush(_ bytes: [UInt8], at offset: Int) async -> IndexError? {
        let (descriptor, path) = (descriptor, path)
        return await withCheckedContinuation { continuation in
            flushQueue.async {
                do throws(IndexError) {
                    try Self.write(bytes, to: descriptor, at: offset, path: path)
                    guard Self.syncData(descriptor) else {
                        throw IndexError(.ioFailure, path: path, detail: "fsync of the write-ahead log failed: \(String(cString: strerror(errno)))")
                    }
                    continuation.resume(returning: nil)
                } catch {
                    continuation.resume(returning: error)
                }
            }
        }
    }

    /// Syncs everything appended so far.
    package func syncAll() async throws(IndexError) {
        try await sync(through: state.withLockedValue { $0.appended })
    }

    /// fdatasync where there is one: an append changes the size, which it syncs too.
    private static func syncData(_ descriptor: FileDescriptor) -> Bool {
        #if os(Linux)
        fdatasync(descriptor.rawValue) == 0
        #else
        fsync(descriptor.rawValue) == 0
        #endif
    }

    private static func readAll(_ descriptor: FileDescriptor, path: String) throws(IndexError) -> [UInt8] {
        var stats = stat()
        guard fstat(descriptor.rawValue, &stats) == 0 else {
            throw IndexError(.ioFailure, path: path, detail: "cannot stat the log: \(String(cString: strerror(errno)))")
        }
        var bytes = [UInt8](repeating: 0, count: Int(stats.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(descriptor.rawValue, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw IndexError(.ioFailure, path: path, offset: Int64(done), detail: "cannot read the log: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        return bytes
    }

    private static func write(_ bytes: [UInt8], to descriptor: FileDescriptor, at offset: Int, path: String) throws(IndexError) {
        do {
            _ = try bytes.withUnsafeBytes { try descriptor.writeAll(toAbsoluteOffset: Int64(offset), $0) }
        } catch {
            throw IndexError(.ioFailure, path: path, offset: Int64(offset), detail: "cannot append to the write-ahead log: \(error)")
        }
    }
}
