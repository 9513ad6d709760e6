import Foundation
@_spi(Engine) import SwannCore

/// Holds a stream of writes to a rate: after each write the writer sleeps until the bytes
/// written so far would have taken `bytesPerSecond` to write.
///
/// A checkpoint rewrites the whole index (hundreds of MiB on minilm-100k) as fast as the disk
/// takes it, and the reads of the searches that go on meanwhile queue behind that burst and its
/// fsyncs. Pacing turns the burst into a stream the disk serves beside them: the checkpoint's
/// I/O budget (`LiveIndex.WriteOptions.checkpointWriteBytesPerSecond`). A pacer belongs to one
/// writer at a time (the thread staging one index).
package final class WritePacer {
    /// The most bytes per second the writes may average from the first.
    package let bytesPerSecond: Int
    private let now: () -> ContinuousClock.Instant
    private let sleep: (Duration) -> Void
    private var started: ContinuousClock.Instant?
    private var written = 0
    /// Time spent asleep so far.
    package private(set) var sleptFor: Duration = .zero

    /// A pacer on the continuous clock.
    /// - Precondition: `bytesPerSecond > 0`.
    package convenience init(bytesPerSecond: Int) {
        self.init(bytesPerSecond: bytesPerSecond, now: { ContinuousClock.now }, sleep: { Thread.sleep(forTimeInterval: $0.seconds) })
    }

    /// A pacer reading and sleeping through the given functions (tests pass a fake clock).
    package init(bytesPerSecond: Int, now: @escaping () -> ContinuousClock.Instant, sleep: @escaping (Duration) -> Void) {
        precondition(bytesPerSecond > 0, "a write budget must be positive")
        self.bytesPerSecond = bytesPerSecond
        self.now = now
        self.sleep = sleep
    }

    /// Counts `bytes` just written and sleeps while the writes are ahead of the budget.
    package func wrote(_ bytes: Int) {
        let start = started ?? now()
        started = start
        written += bytes
        let due = start + .seconds(Double(written) / Double(bytesPerSecond))
        let current = now()
        guard due > current else { return }
        sleep(due - current)
        sleptFor += due - current
    }
}
