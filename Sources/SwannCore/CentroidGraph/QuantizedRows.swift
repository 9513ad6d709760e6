/// Int8 copies of float32 rows for the centroid graph walk.
///
/// The walk is bound by memory traffic, not arithmetic: at 384 float32 dimensions every
/// centroid visited costs 1.5 KiB from DRAM. Quantised to int8 (`SymmetricQuantizer`) a row is
/// 4× smaller (16k centroids fit in the L3 cache), and the walk only has to find the right
/// neighbourhood: the candidates it returns are re-ranked with exact float32 distances before
/// any posting list is chosen.
@_spi(Engine) public struct QuantizedRows: Sendable {
    /// The codes, `rows.count × dimension` int8.
    public let codes: VectorMatrix
    /// Maps float32 components to the codes.
    public let quantizer: SymmetricQuantizer

    /// Quantises float32 `rows`.
    public init(_ rows: VectorMatrix) {
        quantizer = SymmetricQuantizer(fittedTo: rows)
        codes = quantizer.encode(rows)
    }

    /// The value of one code unit.
    public var step: Float { quantizer.step }

    /// Writes the codes of a `dimension`-component float32 query to `output`.
    @inlinable
    public func encode(_ query: UnsafePointer<Float>, into output: UnsafeMutableRawPointer) {
        quantizer.encode(query, count: codes.dimension, into: output)
    }

    /// Bytes held.
    public var byteCount: Int { codes.byteCount }
}
