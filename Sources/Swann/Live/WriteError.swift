/// A write (upsert, delete, checkpoint) was refused or failed. A refused batch changed nothing.
public struct WriteError: Error, Hashable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Code: String, Sendable, Hashable {
        /// The index was opened read-only.
        case readOnly
        /// A vector has the wrong dimension, a NaN or ∞, a value outside the stored type's range,
        /// or (cosine) is zero.
        case invalidVector
        /// The batch is too large for one log record, or the index cannot grow further.
        case invalidBatch
        /// The log, a checkpoint or a read of the base index failed. After a failed log write or
        /// checkpoint, every later write fails too: reopen the index to recover from its log.
        case ioFailure
        /// The index was closed for writes (`LiveIndex.closeForWrites()`), e.g. while a server
        /// replaces it with another; retrying reaches the replacement.
        case closed
    }

    /// What went wrong, for programs to match on.
    public var code: Code
    /// What is wrong, for people.
    public var message: String

    /// An error of kind `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A one-line description.
    public var description: String { "\(code.rawValue): \(message)" }
}

/// When a write call returns.
public enum Durability: String, Sendable, Hashable, CaseIterable {
    /// After the write is on disk (the log fsynced) and visible to searches.
    case durable
    /// After the write is in the log's buffer and visible to searches; it reaches the disk with
    /// the next sync (within milliseconds), and a crash before then loses it.
    case buffered
}

/// A vector and the id it is stored under.
public struct Point: Sendable, Hashable {
    /// The user's id.
    public var id: UInt64
    /// `dimension` components.
    public var vector: [Float]

    /// A point with `id` and `vector`.
    public init(id: UInt64, vector: [Float]) {
        self.id = id
        self.vector = vector
    }
}
