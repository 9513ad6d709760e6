@_spi(Engine) public import SwannCore

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// Where a live index stands with compaction and rebalancing (`LiveIndex.rebalanceStatus`):
/// what is waiting for the next checkpoint, and what checkpoints have done.
public struct RebalanceStatus: Sendable, Hashable {
    /// Lists whose entries (on disk and written since) pass the split length (`splitFactor` ×
    /// the mean list length, at most the posting limit): waiting to split.
    public var oversizedLists = 0
    /// Deleted or replaced vectors whose entries still take space in the posting files.
    public var deadVectors = 0
    /// Centroids the live vectors should have (the build's centroid ratio × live vectors) less
    /// those the index has: positive while it grows, negative while it shrinks.
    public var centroidDeficit = 0
    /// Why the next checkpoint is due, if it is.
    public var due: Reason?
    /// Whether a checkpoint (compaction and rebalancing) is running.
    public var isRunning = false
    /// Whether rebalancing is paused (`LiveIndex.pauseRebalancing()`): checkpoints compact
    /// without splitting, merging or reassigning.
    public var isPaused = false
    /// Checkpoints this process has completed on the index.
    public var checkpoints = 0
    /// What rebalancing has done over the index's life (summed in its manifest).
    public var totals = RebalanceStatistics()

    /// Why a checkpoint is due.
    public enum Reason: String, Sendable, Hashable {
        /// The overlay passed `WriteOptions.checkpointBytes`.
        case overlayFull = "overlay_full"
        /// Dead entries passed `RebalanceConfiguration.compactionFraction` of the vectors.
        case compaction
        /// Lists passed the split length.
        case oversizedLists = "oversized_lists"
        /// The centroid count is off its target by more than `surplusFraction`.
        case centroidCount = "centroid_count"
    }

    /// Nothing pending, nothing done.
    public init() {}
}

/// The latest `RebalanceStatus`, published by the writer and read without waiting for it (a
/// checkpoint can hold the writer for seconds; a metrics scrape must not).
final class RebalanceStatusCell: Sendable {
    private let value: NIOLockedValueBox<RebalanceStatus>
    init(_ status: RebalanceStatus) { value = NIOLockedValueBox(status) }
    var current: RebalanceStatus { value.withLockedValue { $0 } }
    func update(_ change: (inout RebalanceStatus) -> Void) { value.withLockedValue { change(&$0) } }
}
