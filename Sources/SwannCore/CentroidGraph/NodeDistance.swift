public import CSwannHints

/// What a graph search measures: the distance from its query to a node, and how to start
/// loading a node's row before it is needed.
///
/// Graph searches are generic over this protocol so that the walk is specialised per
/// measure (exact rows with one kernel, or quantised copies) and the call inlines.
@_spi(Engine) public protocol NodeDistance {
    /// The distance from the query to `node` (smaller is closer).
    func distance(to node: Int) -> Float
    /// Starts loading the first cache line of `node`'s row.
    func prefetchHead(of node: Int)
    /// Starts loading the rest of `node`'s row.
    func prefetchRest(of node: Int)
}

/// Distances from a query row to the rows of a matrix with one kernel.
@_spi(Engine) public struct KernelNodeDistance<Kernel: DistanceKernel>: NodeDistance {
    @usableFromInline let query: UnsafeRawPointer
    @usableFromInline let rows: VectorMatrix

    /// - Parameters:
    ///   - query: a row of `rows`' element type.
    ///   - rows: the node vectors, in `Kernel`'s element type.
    @inlinable
    public init(query: UnsafeRawPointer, rows: VectorMatrix, kernel: Kernel.Type) {
        self.query = query
        self.rows = rows
    }

    /// The kernel distance from the query to `node`'s row.
    @inlinable @inline(__always)
    public func distance(to node: Int) -> Float {
        Kernel.distance(query, rows.uncheckedRow(node), dimension: rows.dimension)
    }

    /// Starts loading the first cache line of `node`'s row.
    @inlinable @inline(__always)
    public func prefetchHead(of node: Int) {
        swann_prefetch(rows.uncheckedRow(node))
    }

    /// Starts loading the rest of `node`'s row.
    @inlinable @inline(__always)
    public func prefetchRest(of node: Int) {
        let row = rows.uncheckedRow(node)
        var offset = 64
        while offset < rows.rowBytes {
            swann_prefetch(row + offset)
            offset &+= 64
        }
    }
}
