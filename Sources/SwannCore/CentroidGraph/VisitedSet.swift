/// A set of small integer ids that is cleared in O(1) by bumping a generation tag
/// (hnswlib's `VisitedList`): a slot is "visited" when it holds the current tag.
/// Memory is only swept when the 32-bit tag wraps around.
@_spi(Engine) public struct VisitedSet: Sendable {
    @usableFromInline var tags: [UInt32]
    @usableFromInline var current: UInt32 = 1

    /// A set for ids in `0..<capacity`.
    public init(capacity: Int) {
        tags = [UInt32](repeating: 0, count: capacity)
    }

    /// Number of ids the set can hold.
    public var capacity: Int { tags.count }

    /// Forgets every id.
    /// - Complexity: O(1), except once every 2³² − 1 calls.
    @inlinable
    public mutating func removeAll() {
        current &+= 1
        if current == 0 {
            for i in tags.indices { tags[i] = 0 }
            current = 1
        }
    }

    /// Inserts `id`; returns false if it was already present.
    @inlinable @inline(__always)
    public mutating func insert(_ id: Int) -> Bool {
        tags.withUnsafeMutableBufferPointer { t in
            if t[id] == current { return false }
            t[id] = current
            return true
        }
    }

    /// Whether `id` is present.
    @inlinable @inline(__always)
    public func contains(_ id: Int) -> Bool { tags[id] == current }
}
