/// Summary statistics of a set of vectors, accumulated chunk by chunk (`swann info`).
package struct VectorStatistics: Sendable, Codable, Equatable {
    /// Vectors seen.
    package var count = 0
    /// Components that were NaN or ±∞ (float types only).
    package var nonFiniteValues = 0
    /// Rows containing at least one NaN or ±∞.
    package var nonFiniteRows = 0
    /// Smallest and largest finite component.
    package var minimumValue = Float.infinity
    package var maximumValue = -Float.infinity
    /// Mean of all finite components.
    package var meanValue: Double { valueCount > 0 ? valueSum / Double(valueCount) : 0 }
    /// Smallest, mean and largest Euclidean norm over rows without NaN/∞.
    package var minimumNorm = Float.infinity
    package var maximumNorm: Float = 0
    package var meanNorm: Double { normCount > 0 ? normSum / Double(normCount) : 0 }

    private var valueSum = 0.0
    private var valueCount = 0
    private var normSum = 0.0
    private var normCount = 0

    package init() {}

    /// Adds every row of `matrix`.
    package mutating func add(_ matrix: VectorMatrix) {
        var row = [Float](repeating: 0, count: matrix.dimension)
        for i in 0..<matrix.count {
            row.withUnsafeMutableBufferPointer { buffer in
                ElementConversion.widen(matrix.row(i), elementType: matrix.elementType, count: matrix.dimension, into: buffer.baseAddress!)
            }
            var squares: Double = 0
            var finiteRow = true
            for v in row {
                guard v.isFinite else {
                    nonFiniteValues += 1
                    finiteRow = false
                    continue
                }
                minimumValue = min(minimumValue, v)
                maximumValue = max(maximumValue, v)
                valueSum += Double(v)
                valueCount += 1
                squares += Double(v) * Double(v)
            }
            count += 1
            if finiteRow {
                let norm = Float(squares.squareRoot())
                minimumNorm = min(minimumNorm, norm)
                maximumNorm = max(maximumNorm, norm)
                normSum += Double(norm)
                normCount += 1
            } else {
                nonFiniteRows += 1
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case count, nonFiniteValues, nonFiniteRows, minimumValue, maximumValue, minimumNorm, maximumNorm
        case valueSum, valueCount, normSum, normCount
    }
}
