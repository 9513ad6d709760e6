/// The vector ids one query has already scanned: a bitset that forgets only the words it set.
///
/// Replicas put a vector in several lists; the scan skips every id after its first occurrence.
/// A generation-tagged array (`VisitedSet`) costs 4 bytes per vector, and at 100k vectors its
/// 400 KB missed the cache on most lookups (a profile put 15% of a query's time on that one
/// compare). One bit per vector is 12.5 KB at 100k; clearing the words the query touched
/// (a few thousand at most) keeps `removeAll` independent of the index size.
@_spi(Engine) public struct SeenSet: Sendable {
    @usableFromInline var words: [UInt64]
    @usableFromInline var touched: [Int32] = []

    /// A set for ids in `0..<capacity`.
    public init(capacity: Int) {
        words = [UInt64](repeating: 0, count: max(1, (capacity + 63) / 64))
        touched.reserveCapacity(4096)
    }

    /// Makes room for ids in `0..<capacity` (an index that grew by writes); the set must be empty.
    public mutating func reserve(capacity: Int) {
        let needed = (capacity + 63) / 64
        if words.count < needed { words += [UInt64](repeating: 0, count: needed - words.count) }
    }

    /// A set with no storage: a placeholder to swap with a real one (no allocation); inserting
    /// into it is invalid.
    public static var empty: SeenSet { SeenSet(words: []) }

    private init(words: [UInt64]) { self.words = words }

    /// Inserts `id`; returns false if it was already present.
    @inlinable @inline(__always)
    public mutating func insert(_ id: Int) -> Bool {
        let index = id &>> 6
        let bit = UInt64(1) &<< UInt64(id & 63)
        let word = words.withUnsafeBufferPointer { $0[index] }
        if word & bit != 0 { return false }
        if word == 0 { touched.append(Int32(truncatingIfNeeded: index)) }
        words.withUnsafeMutableBufferPointer { $0[index] = word | bit }
        return true
    }

    /// Whether `id` is present.
    @inlinable
    public func contains(_ id: Int) -> Bool { words[id >> 6] & (1 << UInt64(id & 63)) != 0 }

    /// Forgets every id, in time proportional to the words set since the last call.
    @inlinable
    public mutating func removeAll() {
        words.withUnsafeMutableBufferPointer { words in
            for index in touched { words[Int(index)] = 0 }
        }
        touched.removeAll(keepingCapacity: true)
    }
}
