// Int8 and UInt8 kernels. Sixteen components per step are widened to Int32 lanes and
// accumulated with wrapping adds; this is exact: with at most 65,536 components a lane sees at
// most 4,096 terms of at most 255² (or 128²), which stays below 2³¹. Lanes are summed in Int64.

/// Shared 8-bit accumulation, specialised for `Int8` and `UInt8` through `Scalar`.
public enum ByteAccumulation {
    @inlinable @inline(__always)
    static func lanesSum(_ v: SIMD16<Int32>) -> Int64 {
        // Pairwise in Int64: four lanes of up to 2.7e8 each would already overflow Int32.
        let low = SIMD8<Int64>(
            Int64(v[0]), Int64(v[1]), Int64(v[2]), Int64(v[3]), Int64(v[4]), Int64(v[5]), Int64(v[6]), Int64(v[7]))
        let high = SIMD8<Int64>(
            Int64(v[8]), Int64(v[9]), Int64(v[10]), Int64(v[11]), Int64(v[12]), Int64(v[13]), Int64(v[14]), Int64(v[15]))
        return (low &+ high).wrappedSum()
    }

    /// Widens 16 bytes lane by lane. Spelled out because `SIMD16<Int32>(truncatingIfNeeded:)`
    /// compiled to an out-of-line call per vector; this form becomes `punpck`/`pmaddwd`.
    @inlinable @inline(__always)
    static func widen<Scalar: FixedWidthInteger & SIMDScalar>(_ v: SIMD16<Scalar>) -> SIMD16<Int32> {
        SIMD16<Int32>(
            Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]),
            Int32(v[8]), Int32(v[9]), Int32(v[10]), Int32(v[11]), Int32(v[12]), Int32(v[13]), Int32(v[14]), Int32(v[15]))
    }

    /// Σ (aᵢ − bᵢ)², exactly.
    @inlinable @inline(__always)
    public static func squaredL2<Scalar: FixedWidthInteger & SIMDScalar>(
        _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int, as: Scalar.Type
    ) -> Int64 {
        var acc = SIMD16<Int32>()
        var i = 0
        while i &+ 16 <= dimension {
            let x = widen(a.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
            let y = widen(b.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
            let d = x &- y
            acc &+= d &* d
            i &+= 16
        }
        var total = lanesSum(acc)
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
        _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int, as: Scalar.Type, withNorms: Bool
    ) -> (dot: Int64, normA: Int64, normB: Int64) {
        var d = SIMD16<Int32>(), na = SIMD16<Int32>(), nb = SIMD16<Int32>()
        var i = 0
        while i &+ 16 <= dimension {
            let x = widen(a.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
            let y = widen(b.loadUnaligned(fromByteOffset: i, as: SIMD16<Scalar>.self))
            d &+= x &* y
            if withNorms {
                na &+= x &* x
                nb &+= y &* y
            }
            i &+= 16
        }
        var (dot, normA, normB) = (lanesSum(d), lanesSum(na), lanesSum(nb))
        while i < dimension {
            let x = Int64(a.load(fromByteOffset: i, as: Scalar.self)), y = Int64(b.load(fromByteOffset: i, as: Scalar.self))
            dot &+= x &* y
            normA &+= x &* x
            normB &+= y &* y
            i &+= 1
        }
        return (dot, normA, normB)
    }
}

/// Squared Euclidean distance over int8 rows.
public enum L2Int8: DistanceKernel {
    public static var elementType: ElementType { .int8 }
    public static var metric: Metric { .l2 }
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        Float(ByteAccumulation.squaredL2(a, b, dimension: dimension, as: Int8.self))
    }
}

/// Squared Euclidean distance over uint8 rows.
public enum L2UInt8: DistanceKernel {
    public static var elementType: ElementType { .uint8 }
    public static var metric: Metric { .l2 }
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        Float(ByteAccumulation.squaredL2(a, b, dimension: dimension, as: UInt8.self))
    }
}

/// Negated dot product over int8 rows.
public enum InnerProductInt8: DistanceKernel {
    public static var elementType: ElementType { .int8 }
    public static var metric: Metric { .innerProduct }
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        -Float(ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: Int8.self, withNorms: false).dot)
    }
}

/// Negated dot product over uint8 rows.
public enum InnerProductUInt8: DistanceKernel {
    public static var elementType: ElementType { .uint8 }
    public static var metric: Metric { .innerProduct }
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        -Float(ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: UInt8.self, withNorms: false).dot)
    }
}

/// 1 − cos(a, b) over int8 rows.
public enum CosineInt8: DistanceKernel {
    public static var elementType: ElementType { .int8 }
    public static var metric: Metric { .cosine }
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        let r = ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: Int8.self, withNorms: true)
        return Distance.cosineDistance(dot: Float(r.dot), normA: Float(r.normA), normB: Float(r.normB))
    }
}

/// 1 − cos(a, b) over uint8 rows.
public enum CosineUInt8: DistanceKernel {
    public static var elementType: ElementType { .uint8 }
    public static var metric: Metric { .cosine }
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        let r = ByteAccumulation.dotAndNorms(a, b, dimension: dimension, as: UInt8.self, withNorms: true)
        return Distance.cosineDistance(dot: Float(r.dot), normA: Float(r.normA), normB: Float(r.normB))
    }
}
