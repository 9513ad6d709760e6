/// Conversions between stored element types and `Float`.
///
/// Half precision goes through `Float16`'s bit pattern with an integer SIMD routine rather than
/// `Float(Float16)`: on baseline x86-64 (no F16C) the latter is a library call per element,
/// while the integer version stays in vector registers on every architecture (docs/KERNELS.md).
@_spi(Engine) public enum ElementConversion {
    /// Widens `count` components of `elementType` at `source` into `destination`.
    @inlinable
    public static func widen(
        _ source: UnsafeRawPointer,
        elementType: ElementType,
        count: Int,
        into destination: UnsafeMutablePointer<Float>
    ) {
        switch elementType {
        case .float32:
            destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .float16:
            var i = 0
            while i &+ 8 <= count {
                let bits = source.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<UInt16>.self)
                UnsafeMutableRawPointer(destination).storeBytes(
                    of: HalfFloat.widen(bits),
                    toByteOffset: i &* 4,
                    as: SIMD8<Float>.self
                )
                i &+= 8
            }
            while i < count {
                destination[i] = HalfFloat.widen(source.load(fromByteOffset: i &* 2, as: UInt16.self))
                i &+= 1
            }
        case .int8:
            let p = source.assumingMemoryBound(to: Int8.self)
            for i in 0..<count { destination[i] = Float(p[i]) }
        case .uint8:
            let p = source.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count { destination[i] = Float(p[i]) }
        }
    }

    /// Stores `count` floats as `elementType`: float16 rounds to nearest even; the 8-bit types
    /// round to nearest and clamp to their range.
    @inlinable
    public static func narrow(
        _ source: UnsafePointer<Float>,
        count: Int,
        to elementType: ElementType,
        into destination: UnsafeMutableRawPointer
    ) {
        switch elementType {
        case .float32:
            destination.copyMemory(from: source, byteCount: count &* 4)
        case .float16:
            for i in 0..<count {
                destination.storeBytes(of: Float16(source[i]).bitPattern, toByteOffset: i &* 2, as: UInt16.self)
            }
        case .int8:
            for i in 0..<count {
                let v = source[i].rounded().clamped(-128, 127)
                destination.storeBytes(of: Int8(v), toByteOffset: i, as: Int8.self)
            }
        case .uint8:
            for i in 0..<count {
                let v = source[i].rounded().clamped(0, 255)
                destination.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self)
            }
        }
    }
}

extension Float {
    @inlinable
    func clamped(_ low: Float, _ high: Float) -> Float {
        if self.isNaN { return 0 }
        return Swift.min(Swift.max(self, low), high)
    }
}

/// IEEE 754 binary16 → binary32 conversion on bit patterns (after F. Giesen, "half_to_float").
@_spi(Engine) public enum HalfFloat {
    /// Converts eight half-precision bit patterns to `Float`, exactly (including subnormals,
    /// infinities and NaN).
    @inlinable @inline(__always)
    public static func widen(_ half: SIMD8<UInt16>) -> SIMD8<Float> {
        // Only shifts, masks, adds and one float subtract/multiply: all of it stays in SSE2
        // registers. `replacing(with:where:)` and lane-wise conversions are avoided on purpose:
        // they compiled to scalar per-lane code (measured 33 ns per component).
        let h = SIMD8<UInt32>(
            UInt32(half[0]),
            UInt32(half[1]),
            UInt32(half[2]),
            UInt32(half[3]),
            UInt32(half[4]),
            UInt32(half[5]),
            UInt32(half[6]),
            UInt32(half[7])
        )
        let exponent = h & 0x7C00
        // All-ones lanes where the half is zero/subnormal (exponent 0) or Inf/NaN (exponent 31).
        let subnormal = 0 &- ((exponent &- 1) &>> 31)
        let special = 0 &- (((exponent ^ 0x7C00) &- 1) &>> 31)
        // Normal numbers: rebias the exponent (15 → 127); Inf/NaN: rebias once more to 255.
        let normal = ((h & 0x7FFF) &<< 13) &+ (112 &<< 23) &+ (special & (112 &<< 23))
        // Subnormals: m × 2⁻²⁴, built as (0.5 + m/2048 − 0.5) × 2⁻¹³, exact in float32.
        let half0 = unsafeBitCast(0x3F00_0000 | ((h & 0x3FF) &<< 13), to: SIMD8<Float>.self)
        let tiny = unsafeBitCast((half0 - 0.5) * (1.0 / 8192.0), to: SIMD8<UInt32>.self)
        let bits = (normal & ~subnormal) | (tiny & subnormal) | ((h & 0x8000) &<< 16)
        return unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// Converts eight half-precision bit patterns of *finite* values to `Float`: exact for zeros,
    /// normals and subnormals, but ±∞ and NaN come out as large finite numbers. This is what
    /// the distance kernels use — indexes and queries never hold non-finite values (they are
    /// rejected on input) — because it is a quarter of the instructions of `widen(_:)`: the
    /// half's exponent/mantissa bits shifted into place and scaled by 2¹¹² in one multiply.
    @inlinable @inline(__always)
    public static func widenFinite(_ half: SIMD8<UInt16>) -> SIMD8<Float> {
        let h = SIMD8<UInt32>(
            UInt32(half[0]),
            UInt32(half[1]),
            UInt32(half[2]),
            UInt32(half[3]),
            UInt32(half[4]),
            UInt32(half[5]),
            UInt32(half[6]),
            UInt32(half[7])
        )
        let magnitude = unsafeBitCast((h & 0x7FFF) &<< 13, to: SIMD8<Float>.self) * 0x1p112
        return unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<UInt32>.self) | ((h & 0x8000) &<< 16), to: SIMD8<Float>.self)
    }

    /// Splits 16 half-precision values, read as eight 32-bit words, into the values at even and
    /// odd positions, widened with `widenFinite`'s rule. Kernels only sum over positions, so the
    /// permutation is harmless, and every operation is a uniform 32-bit lane op (constructing a
    /// `SIMD8<UInt32>` lane by lane from `SIMD8<UInt16>` made LLVM fall back to scalar loads).
    @inlinable @inline(__always)
    public static func widenPairs(_ words: SIMD8<UInt32>) -> (even: SIMD8<Float>, odd: SIMD8<Float>) {
        @inline(__always) func convert(_ h: SIMD8<UInt32>) -> SIMD8<Float> {
            let magnitude = unsafeBitCast((h & 0x7FFF) &<< 13, to: SIMD8<Float>.self) * 0x1p112
            return unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<UInt32>.self) | ((h & 0x8000) &<< 16), to: SIMD8<Float>.self)
        }
        return (convert(words & 0xFFFF), convert(words &>> 16))
    }

    /// Converts one half-precision bit pattern to `Float`.
    @inlinable @inline(__always)
    public static func widen(_ half: UInt16) -> Float {
        widen(SIMD8<UInt16>(repeating: half))[0]
    }
}
