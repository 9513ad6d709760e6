@_spi(Engine) import SwannCore

/// Seeded random rows of `elementType`, as both the stored matrix and exact Double values.
func randomMatrix(
    count: Int,
    dimension: Int,
    elementType: ElementType,
    rng: inout SplitMix64,
    scale: Float = 1
) -> (VectorMatrix, [[Double]]) {
    var rows: [[Float]] = []
    for _ in 0..<count {
        rows.append(
            (0..<dimension).map { _ in
                switch elementType {
                case .int8: Float(Int(rng.next() % 256) - 128)
                case .uint8: Float(rng.next() % 256)
                case .float16, .float32: rng.nextGaussian() * scale
                }
            }
        )
    }
    let matrix = try! VectorMatrix.from(rows, elementType: elementType)
    let exact = (0..<count).map { matrix.floats(at: $0).map(Double.init) }
    return (matrix, exact)
}

/// The distance computed in Double, straight from the definition.
func referenceDistance(_ a: [Double], _ b: [Double], metric: Metric) -> Double {
    switch metric {
    case .l2:
        return zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    case .innerProduct:
        return -zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
    case .cosine:
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let na = a.reduce(0) { $0 + $1 * $1 }
        let nb = b.reduce(0) { $0 + $1 * $1 }
        return na > 0 && nb > 0 ? 1 - dot / (na.squareRoot() * nb.squareRoot()) : 1
    }
}

/// A tolerance for float32 accumulation of `dimension` terms whose magnitudes sum to `scale`.
func tolerance(for elementType: ElementType, metric: Metric, magnitude: Double, dimension: Int) -> Double {
    if elementType.isInteger && metric != .cosine { return 0 }  // exact integer accumulation…
    return 1e-5 * magnitude * Double(dimension).squareRoot() + 1e-5
}
