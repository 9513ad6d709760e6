/// Symmetric scalar quantisation to int8 with one step for every component: `x ≈ step × code`,
/// codes in −127...127.
///
/// One step (rather than one per dimension) keeps every metric proportional:
/// ‖a − b‖² ≈ step² ‖ca − cb‖² and a·b ≈ step² (ca·cb), so int8 kernels rank codes the way
/// float32 kernels rank the vectors, and cosine on normalised vectors (inner product) works
/// unchanged. Per-dimension scales would be more precise per component but would distort L2
/// and inner product differently in each dimension.
@_spi(Engine) public struct SymmetricQuantizer: Sendable, Hashable, Codable {
    /// The value of one code unit.
    public let step: Float

    /// The largest |component| that keeps its own code is the 99.99th percentile of the
    /// magnitudes, so that a few outliers do not coarsen every other component.
    public static let clippingQuantile = 0.9999

    /// A quantiser with a given step.
    /// - Precondition: `step` is finite and positive.
    public init(step: Float) {
        precondition(step.isFinite && step > 0, "a quantisation step must be finite and positive")
        self.step = step
    }

    /// The quantiser fitted to float32 rows (a strided sample of at most 1M components).
    public init(fittedTo rows: VectorMatrix) {
        precondition(rows.elementType == .float32, "a quantiser is fitted to float32 rows")
        let total = rows.count * rows.dimension
        let floats = rows.rawBytes.bindMemory(to: Float.self)
        let stride = max(1, total / 1_000_000)
        var magnitudes = [Float]()
        magnitudes.reserveCapacity(total / stride + 1)
        for i in Swift.stride(from: 0, to: total, by: stride) { magnitudes.append(abs(floats[i])) }
        magnitudes.sort()
        let clip = magnitudes.isEmpty ? 0 : magnitudes[min(magnitudes.count - 1, Int(Double(magnitudes.count) * Self.clippingQuantile))]
        self.init(step: clip > 0 && clip.isFinite ? clip / 127 : 1)
    }

    /// Writes the codes of `count` float32 components to `output`.
    @inlinable
    public func encode(_ values: UnsafePointer<Float>, count: Int, into output: UnsafeMutableRawPointer) {
        let inverse = 1 / step
        let out = output.assumingMemoryBound(to: Int8.self)
        for i in 0..<count {
            // Half away from zero, spelled as an add and a truncation: `rounded()` lowered
            // differently in the vectorised and the scalar loop, and codes must be reproducible
            // (re-ranking checks a row against its codes).
            let scaled = (values[i] * inverse).clamped(-127, 127)
            out[i] = Int8(scaled + (scaled < 0 ? -0.5 : 0.5))
        }
    }

    /// The codes of every row of float32 `rows`.
    public func encode(_ rows: VectorMatrix) -> VectorMatrix {
        precondition(rows.elementType == .float32, "only float32 rows are quantised")
        let codes = try! VectorMatrix(elementType: .int8, count: rows.count, dimension: rows.dimension)
        let floats = rows.rawBytes.bindMemory(to: Float.self)
        encode(floats.baseAddress!, count: rows.count * rows.dimension, into: codes.mutableRawBytes.baseAddress!)
        return codes
    }
}
