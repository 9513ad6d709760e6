@_spi(Engine) import SwannCore
import Testing

struct DistanceKernelTests {
    static let dimensions = Array(1...64) + [100, 128, 384, 768, 1536]

    @Test(arguments: ElementType.allCases, Metric.allCases)
    func kernelsMatchScalarReference(elementType: ElementType, metric: Metric) {
        var rng = SplitMix64(seed: 42)
        for dimension in Self.dimensions {
            let (matrix, exact) = randomMatrix(count: 4, dimension: dimension, elementType: elementType, rng: &rng)
            for (i, j) in [(0, 1), (2, 3), (1, 1)] {
                let got = Double(
                    Distance.between(
                        matrix.row(i),
                        matrix.row(j),
                        dimension: dimension,
                        metric: metric,
                        elementType: elementType
                    )
                )
                let want = referenceDistance(exact[i], exact[j], metric: metric)
                let magnitude = metric == .cosine ? 1 : zip(exact[i], exact[j]).reduce(0) { $0 + abs($1.0 * $1.1) + $1.0 * $1.0 + $1.1 * $1.1 }
                // 8-bit sums are exact integers, but converting the total to Float rounds above 2²⁴.
                let allowed =
                    elementType.isInteger && metric != .cosine
                    ? abs(want) * 6e-8 : tolerance(for: elementType, metric: metric, magnitude: magnitude, dimension: dimension)
                #expect(abs(got - want) <= allowed, "\(metric)/\(elementType) d=\(dimension) rows \(i),\(j): \(got) vs \(want)")
            }
        }
    }

    /// The AVX2 kernels (where the CPU has them) and the Swift ones give the same exact sums.
    @Test func avx2AndSwiftByteKernelsAgree() {
        var rng = SplitMix64(seed: 17)
        for dimension in Array(1...70) + [384, 1000] {
            let a = (0..<dimension).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let b = (0..<dimension).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            a.withUnsafeBytes { a in
                b.withUnsafeBytes { b in
                    let (x, y) = (a.baseAddress!, b.baseAddress!)
                    #expect(
                        L2Int8.distance(x, y, dimension: dimension) == Float(ByteAccumulation.squaredL2(x, y, dimension: dimension, as: Int8.self))
                    )
                    #expect(
                        L2UInt8.distance(x, y, dimension: dimension) == Float(ByteAccumulation.squaredL2(x, y, dimension: dimension, as: UInt8.self))
                    )
                    #expect(
                        InnerProductInt8.distance(x, y, dimension: dimension)
                            == -Float(ByteAccumulation.dotAndNorms(x, y, dimension: dimension, as: Int8.self, withNorms: false).dot)
                    )
                }
            }
        }
    }

    /// The AVX2 + FMA float kernels (where the CPU has them) and the Swift ones agree within
    /// float32 rounding of the sum of the terms' magnitudes (they add in different orders).
    @Test func fmaAndSwiftFloatKernelsAgree() throws {
        var rng = SplitMix64(seed: 23)
        for dimension in Array(1...70) + [384, 1000] {
            let rows = (0..<2).map { _ in (0..<dimension).map { _ in Float(Int(rng.next() % 2001) - 1000) / 250 } }
            for elementType in [ElementType.float32, .float16] {
                let m = try VectorMatrix.from(rows, elementType: elementType)
                let (x, y) = (m.row(0), m.row(1))
                let magnitude = zip(rows[0], rows[1]).reduce(Float(0)) { $0 + $1.0 * $1.0 + $1.1 * $1.1 + 2 * abs($1.0 * $1.1) }
                let allowed = magnitude * 1e-6 + 1e-6
                let label = "\(elementType) d=\(dimension)"
                if elementType == .float32 {
                    #expect(
                        abs(L2Float32.distance(x, y, dimension: dimension) - FloatAccumulation.squaredL2(x, y, dimension: dimension)) <= allowed,
                        "\(label)"
                    )
                    #expect(
                        abs(DotFloat32.dot(x, y, dimension: dimension) - FloatAccumulation.dot(x, y, dimension: dimension)) <= allowed,
                        "\(label)"
                    )
                    let (c, s) = (DotFloat32.dotAndNorms(x, y, dimension: dimension), FloatAccumulation.dotAndNorms(x, y, dimension: dimension))
                    #expect(abs(c.dot - s.dot) <= allowed && abs(c.normA - s.normA) <= allowed && abs(c.normB - s.normB) <= allowed, "\(label)")
                } else {
                    #expect(
                        abs(L2Float16.distance(x, y, dimension: dimension) - HalfAccumulation.squaredL2(x, y, dimension: dimension)) <= allowed,
                        "\(label)"
                    )
                    for withNorms in [false, true] {
                        let c = DotFloat16.dotAndNorms(x, y, dimension: dimension, withNorms: withNorms)
                        let s = HalfAccumulation.dotAndNorms(x, y, dimension: dimension, withNorms: withNorms)
                        #expect(abs(c.dot - s.dot) <= allowed, "\(label)")
                        if withNorms { #expect(abs(c.normA - s.normA) <= allowed && abs(c.normB - s.normB) <= allowed, "\(label)") }
                    }
                }
            }
        }
    }

    @Test(arguments: [1, 7, 15, 16, 17, 384, 1536])
    func integerKernelsAreExactAtTheExtremes(dimension: Int) {
        // int8 −128 against 127 is the largest per-component difference; uint8 0 against 255 likewise.
        let a8 = try! VectorMatrix.from([[Float](repeating: -128, count: dimension), [Float](repeating: 127, count: dimension)], elementType: .int8)
        #expect(Distance.between(a8.row(0), a8.row(1), dimension: dimension, metric: .l2, elementType: .int8) == Float(255 * 255 * dimension))
        #expect(
            Distance.between(a8.row(0), a8.row(0), dimension: dimension, metric: .innerProduct, elementType: .int8) == -Float(128 * 128 * dimension)
        )
        let u8 = try! VectorMatrix.from([[Float](repeating: 0, count: dimension), [Float](repeating: 255, count: dimension)], elementType: .uint8)
        #expect(Distance.between(u8.row(0), u8.row(1), dimension: dimension, metric: .l2, elementType: .uint8) == Float(255 * 255 * dimension))
        #expect(
            Distance.between(u8.row(1), u8.row(1), dimension: dimension, metric: .innerProduct, elementType: .uint8) == -Float(255 * 255 * dimension)
        )
    }

    @Test func uint8SumsBeyondInt32StayExact() {
        // 65,536 components of 255² overflow Int32 when summed naively (4.26e9).
        let dimension = 65_536
        let m = try! VectorMatrix.from([[Float](repeating: 0, count: dimension), [Float](repeating: 255, count: dimension)], elementType: .uint8)
        #expect(Distance.between(m.row(0), m.row(1), dimension: dimension, metric: .l2, elementType: .uint8) == Float(65_025.0 * 65_536.0))
    }

    @Test(arguments: ElementType.allCases)
    func zeroVectors(elementType: ElementType) {
        let m = try! VectorMatrix.from([[Float](repeating: 0, count: 33), [Float](repeating: 0, count: 33)], elementType: elementType)
        for metric in Metric.allCases {
            let d = Distance.between(m.row(0), m.row(1), dimension: 33, metric: metric, elementType: elementType)
            #expect(d == (metric == .cosine ? 1 : 0), "\(metric)/\(elementType)")
        }
    }

    @Test(arguments: [ElementType.float32, .float16])
    func largeMagnitudes(elementType: ElementType) {
        let big: Float = elementType == .float16 ? 60_000 : 1e18
        let m = try! VectorMatrix.from([[Float](repeating: big, count: 40), [Float](repeating: -big, count: 40)], elementType: elementType)
        let l2 = Distance.between(m.row(0), m.row(1), dimension: 40, metric: .l2, elementType: elementType)
        let expected = Double(2 * big) * Double(2 * big) * 40
        #expect(abs(Double(l2) - expected) <= expected * 1e-5 || (l2.isInfinite && expected > Double(Float.greatestFiniteMagnitude)))
        let cosine = Distance.between(m.row(0), m.row(1), dimension: 40, metric: .cosine, elementType: elementType)
        #expect(abs(cosine - 2) < 1e-5, "opposite vectors have cosine distance 2, got \(cosine)")
    }

    @Test func halfPrecisionConversionIsExactForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let want = Float(Float16(bitPattern: bits))
            let got = HalfFloat.widen(bits)
            if want.isNaN {
                #expect(got.isNaN)
            } else {
                #expect(got.bitPattern == want.bitPattern, "half 0x\(String(bits, radix: 16)): \(got) vs \(want)")
            }
            if want.isFinite {
                let fast = HalfFloat.widenFinite(SIMD8<UInt16>(repeating: bits))[3]
                #expect(fast.bitPattern == want.bitPattern, "finite path, half 0x\(String(bits, radix: 16))")
            }
        }
    }
}
