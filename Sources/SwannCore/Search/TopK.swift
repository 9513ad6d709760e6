/// Keeps the `k` smallest `(distance, id)` pairs seen so far: a bounded binary max-heap.
///
/// Written by hand rather than with `HeapModule.Heap` because the hot path is the single
/// comparison against `threshold` (the current k-th distance), which a general heap does not
/// expose without an extra lookup, and because the storage is reused across queries.
/// Ties on distance are broken by the smaller id, so results are deterministic.
@_spi(Engine) public struct TopK: Sendable {
    /// How many results are kept.
    public private(set) var k: Int
    @usableFromInline var distances: [Float]
    @usableFromInline var ids: [Int64]
    /// The distance a candidate must beat to enter: +∞ until `k` results are held.
    @inlinable public var threshold: Float { _threshold }
    @usableFromInline var _threshold: Float = .infinity

    /// An empty collector for the `k` nearest.
    /// - Precondition: `k >= 1`.
    public init(k: Int) {
        precondition(k >= 1, "k must be at least 1")
        self.k = k
        distances = []
        ids = []
        distances.reserveCapacity(k)
        ids.reserveCapacity(k)
    }

    /// A collector with no storage: a placeholder to swap with a real one (no allocation).
    public static var empty: TopK { TopK(emptyWithK: 1) }

    private init(emptyWithK k: Int) {
        self.k = k
        distances = []
        ids = []
    }

    /// Number of results held (at most `k`).
    public var count: Int { distances.count }

    /// Forgets every result, keeping the storage.
    public mutating func removeAll() {
        distances.removeAll(keepingCapacity: true)
        ids.removeAll(keepingCapacity: true)
        _threshold = .infinity
    }

    /// Forgets every result and keeps the `k` nearest from now on, reusing the storage (a
    /// search's scratch keeps one collector across queries whose k differ).
    /// - Precondition: `k >= 1`.
    public mutating func reset(k: Int) {
        precondition(k >= 1, "k must be at least 1")
        removeAll()
        self.k = k
        distances.reserveCapacity(k)
        ids.reserveCapacity(k)
    }

    @inlinable @inline(__always)
    static func isWorse(_ d1: Float, _ i1: Int64, than d2: Float, _ i2: Int64) -> Bool {
        d1 > d2 || (d1 == d2 && i1 > i2)
    }

    /// Offers a candidate; returns whether it was kept.
    /// - Complexity: O(1) when rejected, O(log k) when kept.
    @inlinable
    @discardableResult
    public mutating func insert(_ distance: Float, id: Int64) -> Bool {
        if distances.count < k {
            distances.append(distance)
            ids.append(id)
            siftUp(distances.count - 1)
            if distances.count == k { _threshold = distances[0] }
            return true
        }
        guard distance <= threshold, Self.isWorse(distances[0], ids[0], than: distance, id) else { return false }
        distances[0] = distance
        ids[0] = id
        siftDown(0)
        _threshold = distances[0]
        return true
    }

    @usableFromInline
    mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.isWorse(distances[child], ids[child], than: distances[parent], ids[parent]) else { break }
            distances.swapAt(child, parent)
            ids.swapAt(child, parent)
            child = parent
        }
    }

    @usableFromInline
    mutating func siftDown(_ start: Int) {
        var parent = start
        let n = distances.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { break }
            var worst = left
            let right = left + 1
            if right < n, Self.isWorse(distances[right], ids[right], than: distances[left], ids[left]) { worst = right }
            guard Self.isWorse(distances[worst], ids[worst], than: distances[parent], ids[parent]) else { break }
            distances.swapAt(worst, parent)
            ids.swapAt(worst, parent)
            parent = worst
        }
    }

    /// The held results, nearest first (ties by id).
    public func sorted() -> [Neighbor] {
        var copy = self
        var neighbors: [Neighbor] = []
        copy.drainSorted(into: &neighbors)
        return neighbors
    }

    /// Moves the held results into `neighbors` (replacing its contents), nearest first with ties
    /// by id, and leaves the collector empty. Pops the heap from its worst end, so it needs no
    /// memory beyond `neighbors`' capacity: the query path reuses both.
    public mutating func drainSorted(into neighbors: inout [Neighbor]) {
        let n = distances.count
        neighbors.removeAll(keepingCapacity: true)
        neighbors.append(contentsOf: repeatElement(Neighbor(id: 0, distance: 0), count: n))
        var last = n - 1
        while last >= 0 {
            neighbors[last] = Neighbor(id: ids[0], distance: distances[0])
            distances.swapAt(0, last)
            ids.swapAt(0, last)
            distances.removeLast()
            ids.removeLast()
            siftDown(0)
            last -= 1
        }
        _threshold = .infinity
    }
}

/// One search result: a vector id and its distance to the query (smaller is closer).
public struct Neighbor: Sendable, Hashable, Codable {
    /// The vector's id: its row number, or the user's id when the index has an id map.
    public var id: Int64
    /// The distance under the index's metric.
    public var distance: Float

    /// A result: vector `id` at `distance`.
    public init(id: Int64, distance: Float) {
        self.id = id
        self.distance = distance
    }
}
