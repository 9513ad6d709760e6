import Foundation
@_spi(Engine) import SwannCore
import Testing

/// The RaBitQ codec on its own: the rotation, and the estimator's bias and error bound.
struct RaBitQCodecTests {
    @Test(arguments: [1, 48, 100, 384])
    func theRotationKeepsNormsAndDotProducts(dimension: Int) {
        let codec = RaBitQCodec(dimension: dimension)
        #expect(codec.paddedDimension >= max(64, dimension) && codec.paddedDimension & (codec.paddedDimension - 1) == 0)
        var rng = SplitMix64(seed: 3)
        let a = (0..<dimension).map { _ in rng.nextGaussian() }
        let b = (0..<dimension).map { _ in rng.nextGaussian() }
        var ra = [Float](repeating: 0, count: codec.paddedDimension)
        var rb = ra
        codec.rotate(a, into: &ra)
        codec.rotate(b, into: &rb)
        let dot = zip(a, b).reduce(0) { $0 + Double($1.0 * $1.1) }
        let rotatedDot = zip(ra, rb).reduce(0) { $0 + Double($1.0 * $1.1) }
        let norm = a.reduce(0) { $0 + Double($1 * $1) }
        let rotatedNorm = ra.reduce(0) { $0 + Double($1 * $1) }
        #expect(abs(rotatedNorm - norm) <= 1e-4 * norm)
        #expect(abs(rotatedDot - dot) <= 1e-4 * (norm + b.reduce(0) { $0 + Double($1 * $1) }))
        // A rotation, not the identity: the energy of a unit vector spreads over the padded space.
        var unit = [Float](repeating: 0, count: dimension)
        unit[0] = 1
        var spread = [Float](repeating: 0, count: codec.paddedDimension)
        codec.rotate(unit, into: &spread)
        #expect(spread.filter { abs($0) > 1e-6 }.count > codec.paddedDimension / 2)
    }

    /// For every (vector, centroid, query), the estimate of the kernel distance is unbiased and
    /// the true distance lies within its bounds for nearly every entry (ε₀ = 1.9 standard
    /// deviations: ~94% of a Gaussian; the bound holds with high probability, not always).
    @Test(arguments: [Metric.l2, .innerProduct])
    func estimatesAreUnbiasedAndBoundsHoldForNearlyEveryEntry(metric: Metric) {
        let dimension = 96
        let codec = RaBitQCodec(dimension: dimension, seed: 11)
        var rng = SplitMix64(seed: 5)
        func gaussian(_ scale: Float = 1) -> [Float] { (0..<dimension).map { _ in rng.nextGaussian() * scale } }
        let centroid = gaussian()
        var rotatedCentroid = [Float](repeating: 0, count: codec.paddedDimension)
        codec.rotate(centroid, into: &rotatedCentroid)
        let members = (0..<400).map { _ in zip(centroid, gaussian(0.5)).map { $0 + $1 } }
        let vectors = try! VectorMatrix.from(members, elementType: .float32)
        let ids = (0..<UInt32(members.count)).map { $0 }
        let entries = ids.withUnsafeBufferPointer { codec.encodeList(members: $0, vectors: vectors, centroid: centroid, metric: metric) }
        #expect(entries.count == members.count * codec.entryBytes)
        var inside = 0
        var errors: [Double] = []
        var prepared = RaBitQQuery()
        for _ in 0..<10 {
            let query = zip(centroid, gaussian(0.7)).map { $0 + $1 }
            codec.prepare(query, into: &prepared)
            let base: Float
            let residual: Float
            switch metric {
            case .l2:
                base = zip(query, centroid).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                residual = base
            default:
                base = -zip(query, centroid).reduce(0) { $0 + $1.0 * $1.1 }
                residual = zip(query, centroid).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }
            var lower = [Float](repeating: 0, count: members.count)
            var upper = lower
            entries.withUnsafeBytes { rows in
                prepared.bounds(
                    rows: rows.baseAddress!,
                    entryBytes: codec.entryBytes,
                    count: members.count,
                    base: base,
                    margin: 1.9 * residual.squareRoot(),
                    lower: &lower,
                    upper: &upper
                )
            }
            for (i, member) in members.enumerated() {
                let exact: Double =
                    metric == .l2
                    ? zip(query, member).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
                    : -zip(query, member).reduce(0) { $0 + Double($1.0 * $1.1) }
                #expect(lower[i] <= upper[i])
                if Double(lower[i]) <= exact + 1e-3, exact - 1e-3 <= Double(upper[i]) { inside += 1 }
                errors.append((Double(lower[i]) + Double(upper[i])) / 2 - exact)
            }
        }
        let meanError = errors.reduce(0, +) / Double(errors.count)
        let meanAbsolute = errors.reduce(0) { $0 + abs($1) } / Double(errors.count)
        #expect(Double(inside) >= 0.9 * Double(errors.count), "\(inside) of \(errors.count) inside their bounds")
        #expect(abs(meanError) < 0.1 * meanAbsolute, "bias \(meanError), mean |error| \(meanAbsolute)")
    }

    @Test func aCodecSurvivesJSONAndRefusesAForgedPadding() throws {
        let codec = RaBitQCodec(dimension: 100, seed: 9)
        let decoded = try JSONDecoder().decode(RaBitQCodec.self, from: try JSONEncoder().encode(codec))
        #expect(decoded == codec)
        var a = [Float](repeating: 0, count: 128)
        var b = a
        let v = (0..<100).map { Float($0) }
        codec.rotate(v, into: &a)
        decoded.rotate(v, into: &b)
        #expect(a == b, "the rotation is rebuilt from the seed")
        let forged = #"{"dimension":100,"paddedDimension":256,"seed":9,"queryBits":4}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RaBitQCodec.self, from: Data(forged.utf8)) }
    }
}
