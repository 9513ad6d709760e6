// Int8 and UInt8 kernels. Sixteen components per step are widened to Int16 lanes (exact: a
// difference of two bytes is within ±255) and multiplied into Int32 pairs, which LLVM lowers to
// `pmaddwd` (16 bit × 16 bit, adjacent products summed) — about 15 instructions per 16 bytes on
// baseline x86-64, a third of widening everything to Int32 first. Exact: a pair sum is at most
// 2 × 255², and with at most 65,536 components an Int32 lane sees at most 8,192 terms of at
// most 255², which stays below 2³¹. The lanes are summed with a wrapping Int32 add (letting
// LLVM pair them as `pmaddwd` does) and read back exactly: a sum of squares or of uint8
// products is non-negative and below 65,536 × 255² < 2³², so its bit pattern read as UInt32 is
// the sum; an int8 dot product is within ±65,536 × 128² < 2³¹.

public import CSwannKernels

/// Shared 8-bit accumulation, specialised for `Int8` and `UInt8` through `Scalar`.
@_spi(Engine) public enum ByteAccumulation {
    /// The exact sum of the lanes of a non-negative accumulation (see the bounds above).
    @inlinable @inline(__always)
    static func nonNegativeSum(_ v: SIMD8<Int32>) -> Int64 {
        Int64(UInt32(bitPattern: v.wrappedSum()))
    }

    /// The exact sum of the lanes of a dot product of `Scalar`s (see the bounds above).
    @inlinable @inline(__always)
    static func dotSum<Scalar: FixedWidthInteger>(_ v: SIMD8<Int32>, as: Scalar.Type) -> Int64 {
        Scalar.isSigned ? Int64(v.wrappedSum()) : nonNegativeSum(v)
    }

    /// Widens 16 bytes lane by lane. Spelled out because `SIMD16<Int16>(truncatingIfNeeded:)`
    /// compiles to an out-of-line call per vector; this form becomes `punpck` + `psraw`.
    @inlinable @inline(__always)
    static func widen<Scalar: FixedWidthInteger & SIMDScalar>(_ v: SIMD16<Scalar>) -> SIMD16<Int16> {
        SIMD16<Int16>(
            Int16(v[0]),
            Int16(v[1]),
            Int16(v[2]),
            Int16(v[3]),
            Int16(v[4]),
            Int16(v[5]),
            Int16(v[6]),
            Int16(v[7]),
            Int16(v[8]),
            Int16(v[9]),
            Int16(v[10]),
            Int16(v[11]),
            Int16(v[12]),
            Int16(v[13]),
            Int16(v[14]),
            Int16(v[15])
        )
    }

    /// xᵢyᵢ + xᵢ₊₈yᵢ₊₈ in Int32 lanes: the shape LLVM turns into `pmaddwd` (the pairing does not
    /// matter, every product is summed in the end; halves, unlike even/odd lanes, need no shuffle).
    @inlinable @inline(__always)
    static func pairProducts(_ x: SIMD16<Int16>, _ y: SIMD16<Int16>) -> SIMD8<Int32> {
        let xl = SIMD8<Int32>(Int32(x[0]), Int32(x[1]), Int32(x[2]), Int32(x[3]), Int32(x[4]), Int32(x[5]), Int32(x[6]), Int32(x[7]))
        let xh = SIMD8<Int32>(
            Int32(x[8]),
            Int32(x[9]),
            Int32(x[10]),
            Int32(x[11]),
            Int32(x[12]),
            Int32(x[13]),
            Int32(x[14]),
            Int32(x[15])
        )
        let yl = SIMD8<Int32>(Int32(y[0]), Int32(y[1]), Int32(y[2]), Int32(y[3]), Int32(y[4]), Int32(y[5]), Int32(y[6]), Int32(y[7]))
        let yh = SIMD8<Int32>(
            Int32(y[8]),
            Int32(y[9]),
            Int32(y[10]),
            Int32(y[11]),
            Int32(y[12]),
            Int32(y[13]),
            Int32(y[14]),
            Int32(y[15])
        )
        return xl &* yl &+ xh &* yh
    }

    /// Σ (aᵢ − bᵢ)², exactly.
    @inlinable @inline(__always)
    public static func squaredL2<Scalar: FixedWidthInteger & SIMDScalar>(
        _ a: UnsafeRawPointer,
        _ b: UnsafeRawPointer,
        dimension: Int,
        as: Scalar.Type
    ) -> Int64 {
        var acc = SIMD8<Int32>()
        var i = 0
        while i &+ 16 <= dimension {
            let d =
                widen(a.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
                &- widen(b.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
            acc &+= pairProducts(d, d)
            i &+= 16
        }
        var total = nonNegativeSum(acc)
        while i < dimension {
            let d = Int64(a.load(fromByteOffset: i, as: Scalar.self)) - Int64(b.load(fromByteOffset: i, as: Scalar.self))
            total &+= d &* d
            i &+= 1
        }
        return total
    }

    /// (Σ aᵢbᵢ, Σ aᵢ², Σ bᵢ²), exactly; the norms only when `withNorms`.
    @inlinable @inline(__always)
    public static func dotAndNorms<Scalar: FixedWidthInteger & SIMDScalar>(
        _ a: UnsafeRawPointer,
        _ b: UnsafeRawPointer,
        dimension: Int,
        as: Scalar.Type,
        withNorms: Bool
    ) -> (dot: Int64, normA: Int64, normB: Int64) {
        var d = SIMD8<Int32>()
        var na = SIMD8<Int32>()
        var nb = SIMD8<Int32>()
        var i = 0
        while i &+ 16 <= dimension {
            let x = widen(a.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
            let y = widen(b.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
            d &+= pairProducts(x, y)
            if withNorms {
                na &+= pairProducts(x, x)
                nb &+= pairProducts(y, y)
            }
            i &+= 16
        }
        var (dot, normA, normB) = (dotSum(d, as: Scalar.self), nonNegativeSum(na), nonNegativeSum(nb))
        while i < dimension {
            let x = Int64(a.load(fromByteOffset: i, as: Scalar.self))
            let y = Int64(b.load(fromByteOffset: i, as: Scalar.self))
            dot &+= x &* y
            normA &+= x &* x
            normB &+= y &* y
            i &+= 1
        }
        return (dot, normA, normB)
    }
}

/// Squared Euclidean distance over int8 rows.
@_spi(Engine) public enum L2Int8: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .int8 }
    /// The metric this kernel computes.
    public static var metric: Metric { .l2 }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        if swann_cpu_has_avx2() != 0 { return Float(swann_l2_int8_avx2(a, b, dimension)) }
        return Float(ByteAccumulation.squaredL2(a, b, dimension: dimension, as: Int8.self))
    }
}

/// Squared Euclidean distance over uint8 rows.
@_spi(Engine) public enum L2UInt8: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .uint8 }
    /// The metric this kernel computes.
    public static var metric: Metric { .l2 }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        if swann_cpu_has_avx2() != 0 { return Float(swann_l2_uint8_avx2(a, b, dimension)) }
        return Float(ByteAccumulation.squaredL2(a, b, dimension: dimension, as: UInt8.self))
    }
}

/// Negated dot product over int8 rows.
@_spi(Engine) public enum InnerProductInt8: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .int8 }
    /// The metric this kernel computes.
    public static var metric: Metric { .innerProduct }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        if swann_cpu_has_avx2() != 0 { return -Float(swann_dot_int8_avx2(a, b, dimension)) }
        return -Float(ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: Int8.self, withNorms: false).dot)
    }
}

/// Negated dot product over uint8 rows.
@_spi(Engine) public enum InnerProductUInt8: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .uint8 }
    /// The metric this kernel computes.
    public static var metric: Metric { .innerProduct }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        -Float(ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: UInt8.self, withNorms: false).dot)
    }
}

/// 1 − cos(a, b) over int8 rows.
@_spi(Engine) public enum CosineInt8: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .int8 }
    /// The metric this kernel computes.
    public static var metric: Metric { .cosine }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        let r = ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: Int8.self, withNorms: true)
        return Distance.cosineDistance(dot: Float(r.dot), normA: Float(r.normA), normB: Float(r.normB))
    }
}

/// 1 − cos(a, b) over uint8 rows.
@_spi(Engine) public enum CosineUInt8: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .uint8 }
    /// The metric this kernel computes.
    public static var metric: Metric { .cosine }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        let r = ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: UInt8.self, withNorms: true)
        return Distance.cosineDistance(dot: Float(r.dot), normA: Float(r.normA), normB: Float(r.normB))
    }
}
