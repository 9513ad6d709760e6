import CSwannLinuxAIO
import SystemPackage

import struct NIOConcurrencyHelpers.NIOLockedValueBox

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Many reads of one file in flight from one thread, with Linux kernel AIO: on the O_DIRECT
/// path a query's posting lists (or the rows it re-ranks) reach the device together instead of
/// one after another, as SPTAG's SSD search does. Kernel AIO needs no helper threads and no
/// library (liburing is not in a default install); it is asynchronous for O_DIRECT reads on
/// ext4 and XFS, which is the only way Swann uses it. Where a context cannot be created (not
/// Linux, or the system-wide `fs.aio-max-nr` is used up) `init` returns nil and callers read
/// one request at a time.
///
/// Used by one thread at a time (a `ReadBatchPool` hands each out to one caller); `Sendable` only
/// so that the pool can pass it between threads.
package final class ReadBatch: @unchecked Sendable {
    /// One read: `bytes` at `offset` into `destination`; at least `minimum` bytes must arrive
    /// (less than `bytes` only where an O_DIRECT read is rounded past the end of the file).
    package struct Read {
        package var offset: Int
        package var bytes: Int
        package var minimum: Int
        package var destination: UnsafeMutableRawPointer

        package init(offset: Int, bytes: Int, minimum: Int, destination: UnsafeMutableRawPointer) {
            self.offset = offset
            self.bytes = bytes
            self.minimum = minimum
            self.destination = destination
        }
    }

    /// Reads in flight at once. 64 covers a default query's lists in one submission.
    package static let depth = 64

    private var context: swann_aio_context = 0
    private let requests: UnsafeMutablePointer<swann_aio_request>
    private let submissions: UnsafeMutablePointer<UnsafeMutablePointer<swann_aio_request>?>
    private let events: UnsafeMutablePointer<swann_aio_event>
    private var freeSlots: [Int]
    /// The current batch's reads, reused across calls.
    package var reads: [Read] = []

    /// A batch reader, or nil where kernel AIO is unavailable.
    package init?() {
        guard swann_aio_setup(UInt32(Self.depth), &context) == 0 else { return nil }
        requests = .allocate(capacity: Self.depth)
        submissions = .allocate(capacity: Self.depth)
        events = .allocate(capacity: Self.depth)
        freeSlots = Array((0..<Self.depth).reversed())
    }

    deinit {
        swann_aio_destroy(context)  // waits for any read still in flight
        requests.deallocate()
        submissions.deallocate()
        events.deallocate()
    }

    /// Performs `reads` on `file`, calling `completed(i)` as read i lands, in any order.
    ///
    /// Returns only when no read is in flight any more, also when it throws, so no read writes
    /// into a destination after the call. When `completed` returns false or throws, the reads
    /// not yet submitted are skipped.
    /// - Parameter what: names read i in errors ("list 7"); called only on failure.
    /// - Throws: the first `IndexError` of a read (failed or short) or of `completed`.
    package func perform(
        on file: PositionalFile,
        what: (Int) -> String,
        completed: (Int) throws(IndexError) -> Bool
    ) throws(IndexError) {
        var next = 0
        var inFlight = 0
        var failure: IndexError?
        var stopped = false
        func finish(_ index: Int) {
            guard failure == nil, !stopped else { return }
            do { stopped = try !completed(index) } catch { failure = error }
        }
        while true {
            var prepared = 0
            while failure == nil, !stopped, next < reads.count, inFlight + prepared < Self.depth {
                let slot = freeSlots.removeLast()
                let read = reads[next]
                swann_aio_prepare_read(
                    requests + slot,
                    file.descriptor.rawValue,
                    read.destination,
                    UInt64(read.bytes),
                    Int64(read.offset),
                    UInt64(next) << 32 | UInt64(slot)
                )
                submissions[prepared] = requests + slot
                prepared += 1
                next += 1
            }
            var submitted = 0
            while submitted < prepared {
                let accepted = swann_aio_submit(context, prepared - submitted, submissions + submitted)
                if accepted > 0 {
                    submitted += accepted
                    inFlight += accepted
                    continue
                }
                // The kernel refused (EAGAIN under memory pressure, or a file system without
                // AIO): read the rest here, one at a time.
                let fallbackFailure = readUnsubmitted(
                    submitted..<prepared,
                    from: file,
                    what: what,
                    isDone: { failure != nil || stopped },
                    finish: finish
                )
                if let fallbackFailure { failure = fallbackFailure }
                break
            }
            if inFlight == 0 {
                if failure != nil || stopped || next == reads.count { break }
                continue
            }
            let landed = swann_aio_wait(context, 1, Self.depth, events)
            if landed < 0 {
                resetContext()
                throw IndexError(.ioFailure, path: file.path, detail: "waiting for reads failed: \(String(cString: strerror(Int32(-landed))))")
            }
            for e in 0..<landed {
                let event = events + e
                let tag = swann_aio_event_tag(event)
                let (index, slot) = (Int(tag >> 32), Int(tag & 0xffff_ffff))
                freeSlots.append(slot)
                inFlight -= 1
                let result = swann_aio_event_result(event)
                let read = reads[index]
                if failure != nil || stopped { continue }
                if result < 0 {
                    failure = IndexError(
                        .ioFailure,
                        path: file.path,
                        offset: Int64(read.offset),
                        detail: "read of \(what(index)) failed: \(String(cString: strerror(Int32(-result))))"
                    )
                } else if result < read.minimum {
                    failure = IndexError(
                        .truncated,
                        path: file.path,
                        offset: Int64(read.offset + Int(result)),
                        detail: "\(what(index)) ends early: the file was cut short"
                    )
                } else {
                    finish(index)
                }
            }
        }
        if let failure { throw failure }
    }

    /// Reads the prepared but unsubmitted requests `range` with `pread` (each unless `isDone()`),
    /// freeing their slots, and calls `finish` for each that landed.
    /// - Returns: the first read's error, if any.
    private func readUnsubmitted(
        _ range: Range<Int>,
        from file: PositionalFile,
        what: (Int) -> String,
        isDone: () -> Bool,
        finish: (Int) -> Void
    ) -> IndexError? {
        var failure: IndexError?
        for request in range {
            let tag = swann_aio_request_tag(submissions[request]!)
            let (index, slot) = (Int(tag >> 32), Int(tag & 0xffff_ffff))
            freeSlots.append(slot)
            guard failure == nil, !isDone() else { continue }
            let read = reads[index]
            do {
                try file.read(into: read.destination, bytes: read.bytes, at: read.offset, minimum: read.minimum, what: what(index))
                finish(index)
            } catch { failure = error }
        }
        return failure
    }

    /// Waiting failed, which cannot happen with valid arguments: destroying the context waits
    /// for every read in flight, so none writes into a destination later; then start afresh.
    private func resetContext() {
        swann_aio_destroy(context)
        _ = swann_aio_setup(UInt32(Self.depth), &context)
        freeSlots = Array((0..<Self.depth).reversed())
    }
}

/// The `ReadBatch`es of one O_DIRECT file, lent to one read call at a time: a store owns its
/// batches, so callers neither create nor pass them. A batch holds a kernel AIO context (a
/// system-wide resource, `fs.aio-max-nr`), so the pool keeps at most `limit` idle ones.
final class ReadBatchPool: Sendable {
    private let idle = NIOLockedValueBox<[ReadBatch]>([])
    private let limit = 64

    /// Runs `body` with a batch from the pool (or a new one; nil where kernel AIO is
    /// unavailable), then takes it back.
    func withBatch<Result>(_ body: (ReadBatch?) throws(IndexError) -> Result) throws(IndexError) -> Result {
        let batch = idle.withLockedValue { $0.popLast() } ?? ReadBatch()
        defer {
            if let batch { idle.withLockedValue { if $0.count < limit { $0.append(batch) } } }
        }
        return try body(batch)
    }
}
