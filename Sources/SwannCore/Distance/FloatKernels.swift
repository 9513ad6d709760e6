// Float32 and Float16 kernels. Where the CPU has AVX2, FMA and F16C they call the C builds in
// CSwannKernels (256-bit fused multiply-adds, hardware half conversion); elsewhere the Swift
// kernels below (`FloatAccumulation`, `HalfAccumulation`) run. Those walk 16 components per step
// in two independent SIMD8 accumulators, then finish with a scalar tail. `acc += d * d` rather
// than `addProduct`: on baseline x86-64 (no FMA) `addProduct` lowers to `fmaf` library calls
// (docs/KERNELS.md).

public import CSwannKernels

/// The portable float32 kernels: baseline SIMD (SSE2 on x86-64, NEON on arm64).
@_spi(Engine) public enum FloatAccumulation {
    /// Σ (aᵢ − bᵢ)².
    @inlinable
    public static func squaredL2(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        var s0 = SIMD8<Float>()
        var s1 = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= dimension {
            let o = i &* 4
            let d0 =
                a.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                - b.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let d1 =
                a.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
                - b.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
            s0 += d0 * d0
            s1 += d1 * d1
            i &+= 16
        }
        if i &+ 8 <= dimension {
            let d =
                a.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                - b.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            s0 += d * d
            i &+= 8
        }
        var total = (s0 + s1).sum()
        while i < dimension {
            let d = a.load(fromByteOffset: i &* 4, as: Float.self) - b.load(fromByteOffset: i &* 4, as: Float.self)
            total += d * d
            i &+= 1
        }
        return total
    }

    /// Σ aᵢbᵢ.
    @inlinable
    public static func dot(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        var s0 = SIMD8<Float>()
        var s1 = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= dimension {
            let o = i &* 4
            s0 +=
                a.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                * b.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            s1 +=
                a.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
                * b.loadUnaligned(fromByteOffset: o &+ 32, as: SIMD8<Float>.self)
            i &+= 16
        }
        if i &+ 8 <= dimension {
            s0 +=
                a.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                * b.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        var total = (s0 + s1).sum()
        while i < dimension {
            total += a.load(fromByteOffset: i &* 4, as: Float.self) * b.load(fromByteOffset: i &* 4, as: Float.self)
            i &+= 1
        }
        return total
    }

    /// (Σ aᵢbᵢ, Σ aᵢ², Σ bᵢ²) in one pass.
    @inlinable
    public static func dotAndNorms(
        _ a: UnsafeRawPointer,
        _ b: UnsafeRawPointer,
        dimension: Int
    ) -> (dot: Float, normA: Float, normB: Float) {
        var d = SIMD8<Float>()
        var na = SIMD8<Float>()
        var nb = SIMD8<Float>()
        var i = 0
        while i &+ 8 <= dimension {
            let x = a.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let y = b.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            d += x * y
            na += x * x
            nb += y * y
            i &+= 8
        }
        var (dot, normA, normB) = (d.sum(), na.sum(), nb.sum())
        while i < dimension {
            let x = a.load(fromByteOffset: i &* 4, as: Float.self)
            let y = b.load(fromByteOffset: i &* 4, as: Float.self)
            dot += x * y
            normA += x * x
            normB += y * y
            i &+= 1
        }
        return (dot, normA, normB)
    }
}

/// Squared Euclidean distance over float32 rows.
@_spi(Engine) public enum L2Float32: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .float32 }
    /// The metric this kernel computes.
    public static var metric: Metric { .l2 }

    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        if swann_cpu_has_fma() != 0 { return swann_l2_f32_fma(a, b, dimension) }
        return FloatAccumulation.squaredL2(a, b, dimension: dimension)
    }
}

/// Dot product of float32 rows (the building block of inner product and cosine).
@_spi(Engine) public enum DotFloat32 {
    /// Σ aᵢbᵢ.
    @inlinable
    public static func dot(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        if swann_cpu_has_fma() != 0 { return swann_dot_f32_fma(a, b, dimension) }
        return FloatAccumulation.dot(a, b, dimension: dimension)
    }

    /// (Σ aᵢbᵢ, Σ aᵢ², Σ bᵢ²) in one pass.
    @inlinable
    public static func dotAndNorms(
        _ a: UnsafeRawPointer,
        _ b: UnsafeRawPointer,
        dimension: Int
    ) -> (dot: Float, normA: Float, normB: Float) {
        if swann_cpu_has_fma() != 0 {
            let r = swann_dot_and_norms_f32_fma(a, b, dimension)
            return (r.dot, r.norm_a, r.norm_b)
        }
        return FloatAccumulation.dotAndNorms(a, b, dimension: dimension)
    }
}

/// Negated dot product over float32 rows.
@_spi(Engine) public enum InnerProductFloat32: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .float32 }
    /// The metric this kernel computes.
    public static var metric: Metric { .innerProduct }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        -DotFloat32.dot(a, b, dimension: dimension)
    }
}

/// 1 − cos(a, b) over float32 rows.
@_spi(Engine) public enum CosineFloat32: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .float32 }
    /// The metric this kernel computes.
    public static var metric: Metric { .cosine }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        let r = DotFloat32.dotAndNorms(a, b, dimension: dimension)
        return Distance.cosineDistance(dot: r.dot, normA: r.normA, normB: r.normB)
    }
}

/// The portable float16 kernels, accumulated in float32: baseline SIMD with the half → float
/// conversion done in integer arithmetic (`HalfFloat.widenPairs`).
@_spi(Engine) public enum HalfAccumulation {
    /// Σ (aᵢ − bᵢ)².
    @inlinable
    public static func squaredL2(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        var s0 = SIMD8<Float>()
        var s1 = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= dimension {
            let x = HalfFloat.widenPairs(a.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt32>.self))
            let y = HalfFloat.widenPairs(b.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt32>.self))
            let d0 = x.even - y.even
            let d1 = x.odd - y.odd
            s0 += d0 * d0
            s1 += d1 * d1
            i &+= 16
        }
        var total = (s0 + s1).sum()
        while i < dimension {
            let d =
                HalfFloat.widen(a.load(fromByteOffset: i &* 2, as: UInt16.self))
                - HalfFloat.widen(b.load(fromByteOffset: i &* 2, as: UInt16.self))
            total += d * d
            i &+= 1
        }
        return total
    }

    /// (Σ aᵢbᵢ, Σ aᵢ², Σ bᵢ²); the norms only when `withNorms`.
    @inlinable @inline(__always)
    public static func dotAndNorms(
        _ a: UnsafeRawPointer,
        _ b: UnsafeRawPointer,
        dimension: Int,
        withNorms: Bool
    ) -> (dot: Float, normA: Float, normB: Float) {
        var d = SIMD8<Float>()
        var na = SIMD8<Float>()
        var nb = SIMD8<Float>()
        var i = 0
        while i &+ 16 <= dimension {
            let x = HalfFloat.widenPairs(a.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt32>.self))
            let y = HalfFloat.widenPairs(b.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt32>.self))
            d += x.even * y.even + x.odd * y.odd
            if withNorms {
                na += x.even * x.even + x.odd * x.odd
                nb += y.even * y.even + y.odd * y.odd
            }
            i &+= 16
        }
        var (dot, normA, normB) = (d.sum(), na.sum(), nb.sum())
        while i < dimension {
            let x = HalfFloat.widen(a.load(fromByteOffset: i &* 2, as: UInt16.self))
            let y = HalfFloat.widen(b.load(fromByteOffset: i &* 2, as: UInt16.self))
            dot += x * y
            normA += x * x
            normB += y * y
            i &+= 1
        }
        return (dot, normA, normB)
    }
}

/// Squared Euclidean distance over float16 rows, accumulated in float32.
@_spi(Engine) public enum L2Float16: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .float16 }
    /// The metric this kernel computes.
    public static var metric: Metric { .l2 }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        if swann_cpu_has_fma() != 0 { return swann_l2_f16_fma(a, b, dimension) }
        return HalfAccumulation.squaredL2(a, b, dimension: dimension)
    }
}

/// Dot products over float16 rows, accumulated in float32.
@_spi(Engine) public enum DotFloat16 {
    /// (Σ aᵢbᵢ, Σ aᵢ², Σ bᵢ²); the norms only when `withNorms`.
    @inlinable @inline(__always)
    public static func dotAndNorms(
        _ a: UnsafeRawPointer,
        _ b: UnsafeRawPointer,
        dimension: Int,
        withNorms: Bool
    ) -> (dot: Float, normA: Float, normB: Float) {
        if swann_cpu_has_fma() != 0 {
            if withNorms {
                let r = swann_dot_and_norms_f16_fma(a, b, dimension)
                return (r.dot, r.norm_a, r.norm_b)
            }
            return (swann_dot_f16_fma(a, b, dimension), 0, 0)
        }
        return HalfAccumulation.dotAndNorms(a, b, dimension: dimension, withNorms: withNorms)
    }
}

/// Negated dot product over float16 rows.
@_spi(Engine) public enum InnerProductFloat16: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .float16 }
    /// The metric this kernel computes.
    public static var metric: Metric { .innerProduct }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        -DotFloat16.dotAndNorms(a, b, dimension: dimension, withNorms: false).dot
    }
}

/// 1 − cos(a, b) over float16 rows.
@_spi(Engine) public enum CosineFloat16: DistanceKernel {
    /// The element type both rows are stored in.
    public static var elementType: ElementType { .float16 }
    /// The metric this kernel computes.
    public static var metric: Metric { .cosine }
    /// The distance between the `dimension`-component rows at `a` and `b`.
    @inlinable
    public static func distance(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dimension: Int) -> Float {
        let r = DotFloat16.dotAndNorms(a, b, dimension: dimension, withNorms: true)
        return Distance.cosineDistance(dot: r.dot, normA: r.normA, normB: r.normB)
    }
}
