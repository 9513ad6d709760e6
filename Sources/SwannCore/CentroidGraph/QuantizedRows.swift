/// Int8 copies of float32 rows for the centroid graph walk.
///
/// The walk is bound by memory traffic, not arithmetic: at 384 float32 dimensions every
/// centroid visited costs 1.5 KiB from DRAM. Quantised to int8 a row is 4× smaller (and 16k
/// centroids fit in the L3 cache), and the walk only has to find the right neighbourhood:
/// the candidates it returns are re-ranked with exact float32 distances before any posting
/// list is chosen.
///
/// The quantisation is symmetric with one step for every component (`x ≈ step × code`), so
/// both metrics the graph uses stay proportional: ‖a − b‖² ≈ step² ‖ca − cb‖² and
/// a·b ≈ step² (ca·cb). Per-dimension scales would be more precise but would distort L2 and
/// inner product differently in each dimension.
public struct QuantizedRows: Sendable {
    /// The codes, `rows.count × dimension` int8.
    public let codes: VectorMatrix
    /// The value of one code unit.
    public let step: Float

    /// The largest |component| that keeps its own code; larger ones clamp to ±127. The
    /// 99.99th percentile, so that a few outliers do not coarsen every other component.
    static let clippingQuantile = 0.9999

    /// Quantises float32 `rows`.
    /// - Precondition: `rows.elementType == .float32`.
    public init(_ rows: VectorMatrix) {
        precondition(rows.elementType == .float32, "QuantizedRows quantises float32 rows")
        let total = rows.count * rows.dimension
        let floats = rows.rawBytes.bindMemory(to: Float.self)
        // The clipping point from a strided sample of at most 1M magnitudes.
        let stride = max(1, total / 1_000_000)
        var magnitudes = [Float]()
        magnitudes.reserveCapacity(total / stride + 1)
        for i in Swift.stride(from: 0, to: total, by: stride) { magnitudes.append(abs(floats[i])) }
        magnitudes.sort()
        let clip = magnitudes.isEmpty ? 0 : magnitudes[min(magnitudes.count - 1, Int(Double(magnitudes.count) * Self.clippingQuantile))]
        step = clip > 0 ? clip / 127 : 1
        codes = try! VectorMatrix(elementType: .int8, count: rows.count, dimension: rows.dimension)
        let out = codes.mutableRawBytes.bindMemory(to: Int8.self)
        let inverse = 1 / step
        for i in 0..<total { out[i] = Self.code(floats[i], inverse: inverse) }
    }

    /// Writes the codes of a `dimension`-component float32 query to `output`.
    @inlinable
    public func encode(_ query: UnsafePointer<Float>, into output: UnsafeMutableRawPointer) {
        let inverse = 1 / step
        let out = output.assumingMemoryBound(to: Int8.self)
        for i in 0..<codes.dimension { out[i] = Self.code(query[i], inverse: inverse) }
    }

    @inlinable @inline(__always)
    static func code(_ value: Float, inverse: Float) -> Int8 {
        Int8((value * inverse).rounded().clamped(-127, 127))
    }

    /// Bytes held.
    public var byteCount: Int { codes.byteCount }
}
