#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A seeded, fast, reproducible random number generator (Steele, Lea & Flood 2014).
///
/// Everything in Swann that draws random numbers (k-means seeding, synthetic data, tests)
/// takes one of these so that a run can be repeated bit for bit from its seed.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64

    package init(seed: UInt64) { state = seed }

    @inlinable
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }

    /// A uniformly distributed Float in [0, 1).
    @inlinable
    package mutating func nextUnitFloat() -> Float {
        Float(next() &>> 40) * (1.0 / Float(1 << 24))
    }

    /// A standard normal sample (Box–Muller).
    package mutating func nextGaussian() -> Float {
        let u1 = max(nextUnitFloat(), 1e-7)
        let u2 = nextUnitFloat()
        return (-2 * log(u1)).squareRoot() * cos(2 * Float.pi * u2)
    }
}
