/// A fast non-cryptographic 64-bit checksum for detecting corrupt index bytes.
///
/// Four independent multiply–xor lanes over 8-byte words (FNV-1a's mixing step, widened so the
/// multiplies overlap) run at several bytes per cycle, which matters because every posting read
/// is verified. Written here rather than taken from a package because the only hash in the
/// allowed package set is swift-crypto's cryptographic SHA family: an order of magnitude slower
/// and minutes of extra build time, for integrity checking that needs no collision resistance.
package enum Checksum {
    @usableFromInline static let prime: UInt64 = 0x0000_0100_0000_01B3
    @usableFromInline static let offset: UInt64 = 0xCBF2_9CE4_8422_2325

    /// The checksum of `bytes`.
    @inlinable
    package static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = bytes.baseAddress else { return offset }
        let count = bytes.count
        var h0 = offset
        var h1 = offset ^ 1
        var h2 = offset ^ 2
        var h3 = offset ^ 3
        var i = 0
        while i &+ 32 <= count {
            h0 = (h0 ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* prime
            h1 = (h1 ^ base.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)) &* prime
            h2 = (h2 ^ base.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)) &* prime
            h3 = (h3 ^ base.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)) &* prime
            h0 ^= h0 &>> 29
            h1 ^= h1 &>> 29
            h2 ^= h2 &>> 29
            h3 ^= h3 &>> 29
            i &+= 32
        }
        var h = (h0 &* 3) ^ (h1 &* 5) ^ (h2 &* 7) ^ (h3 &* 11) ^ UInt64(count)
        while i < count {
            h = (h ^ UInt64(base.load(fromByteOffset: i, as: UInt8.self))) &* prime
            i &+= 1
        }
        return h ^ (h &>> 32)
    }

    /// The checksum of an array's bytes.
    package static func of<T: BitwiseCopyable>(_ values: [T]) -> UInt64 {
        values.withUnsafeBytes { of($0) }
    }
}
